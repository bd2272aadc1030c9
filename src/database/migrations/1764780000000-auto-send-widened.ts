import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When a company's auto-send rules last came to cover deals they did not cover before (see `DealSweep`). */
export class AutoSendWidened1764780000000 implements MigrationInterface {
  name = 'AutoSendWidened1764780000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE companies ADD COLUMN auto_send_widened_at timestamptz');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE companies DROP COLUMN auto_send_widened_at');
  }
}
