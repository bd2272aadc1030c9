import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When Pipedrive refused an installation's refresh token for good: companies left with none working are erased after a while. */
export class InstallationInvalidSince1764800000000 implements MigrationInterface {
  name = 'InstallationInvalidSince1764800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE installations ADD COLUMN invalid_since timestamptz');
    // Refused before this column: counted from now, so nothing is erased sooner than the grace period promises.
    await db.query('UPDATE installations SET invalid_since = now() WHERE invalid_reason IS NOT NULL');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE installations DROP COLUMN invalid_since');
  }
}
