import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The inbox's indexes fitted to what reads it. `inbox_events_company` repeated the leading column of
 * `inbox_events_company_fk` (what uninstall's delete uses), and `inbox_events_unfinished` (pending events by age)
 * had no reader, since the job queue finds the work; each accepted delivery wrote both. Retention reads finished
 * events by age, so `received_at` gets a plain index: an append at the right edge for each new event. Built inside
 * the migration's transaction, it holds webhook inserts while it reads the table (about a second per million rows,
 * once); CONCURRENTLY would wait on processes blocked on the migration lock, which waits on it.
 */
export class InboxIndexes1764760000000 implements MigrationInterface {
  name = 'InboxIndexes1764760000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX inbox_events_company');
    await db.query('DROP INDEX inbox_events_unfinished');
    await db.query('CREATE INDEX inbox_events_received ON inbox_events (received_at)');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX inbox_events_received');
    await db.query(`CREATE INDEX inbox_events_company ON inbox_events (company_id) WHERE company_id IS NOT NULL`);
    await db.query(`CREATE INDEX inbox_events_unfinished ON inbox_events (received_at) WHERE status = 'pending'`);
  }
}
