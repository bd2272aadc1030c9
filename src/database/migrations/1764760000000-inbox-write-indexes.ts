import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two inbox indexes that every webhook paid for and no query of the app reads: `inbox_events_company` repeats the
 * leading column of `inbox_events_company_fk` (what uninstall's delete uses), and `inbox_events_unfinished` was
 * for finding pending events, which the job queue does instead. Each accepted delivery wrote both, and recording
 * its outcome (a new row version) wrote the company one again.
 */
export class InboxWriteIndexes1764760000000 implements MigrationInterface {
  name = 'InboxWriteIndexes1764760000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX inbox_events_company');
    await db.query('DROP INDEX inbox_events_unfinished');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX inbox_events_company ON inbox_events (company_id) WHERE company_id IS NOT NULL`);
    await db.query(`CREATE INDEX inbox_events_unfinished ON inbox_events (received_at) WHERE status = 'pending'`);
  }
}
