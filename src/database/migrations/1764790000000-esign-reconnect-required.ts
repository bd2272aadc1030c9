import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When DottedSign refused a connection's stored authorization for good; cleared by connecting again. */
export class EsignReconnectRequired1764790000000 implements MigrationInterface {
  name = 'EsignReconnectRequired1764790000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE esign_connections ADD COLUMN reconnect_required_at timestamptz');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE esign_connections DROP COLUMN reconnect_required_at');
  }
}
