import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Where each company's sweep for deals whose create webhook was lost has got to (see `DealSweep`). */
export class DealSweep1764750000000 implements MigrationInterface {
  name = 'DealSweep1764750000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE companies
        ADD COLUMN deals_swept_until timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN deals_swept_at timestamptz NOT NULL DEFAULT now()`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE companies DROP COLUMN deals_swept_until, DROP COLUMN deals_swept_at');
  }
}
