import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InboxEvents1763830000000 implements MigrationInterface {
  name = 'InboxEvents1763830000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE inbox_events (
        id bigserial PRIMARY KEY,
        source text NOT NULL,
        dedupe_key text NOT NULL,
        event_type text NOT NULL,
        company_id bigint,
        payload jsonb NOT NULL,
        status text NOT NULL DEFAULT 'pending'
          CHECK (status IN ('pending', 'processed', 'ignored', 'failed')),
        status_reason text,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        CONSTRAINT inbox_events_source_dedupe_key UNIQUE (source, dedupe_key)
      )`);
    await db.query(`CREATE INDEX inbox_events_company ON inbox_events (company_id) WHERE company_id IS NOT NULL`);
    await db.query(`CREATE INDEX inbox_events_unfinished ON inbox_events (received_at) WHERE status = 'pending'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE inbox_events`);
  }
}
