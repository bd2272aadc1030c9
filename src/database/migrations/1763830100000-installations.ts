import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Installations1763830100000 implements MigrationInterface {
  name = 'Installations1763830100000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE companies (
        id bigint PRIMARY KEY,
        name text NOT NULL,
        domain text NOT NULL,
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE installations (
        id bigserial PRIMARY KEY,
        company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
        user_id bigint NOT NULL,
        user_name text NOT NULL DEFAULT '',
        is_admin boolean NOT NULL DEFAULT false,
        api_domain text NOT NULL,
        scopes text[] NOT NULL DEFAULT '{}',
        access_token text NOT NULL,
        refresh_token text NOT NULL,
        expires_at timestamptz NOT NULL,
        refreshed_at timestamptz NOT NULL DEFAULT now(),
        invalid_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT installations_company_user UNIQUE (company_id, user_id)
      )`);
    await db.query(`
      CREATE TABLE webhook_subscriptions (
        id bigserial PRIMARY KEY,
        company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
        pipedrive_webhook_id bigint NOT NULL,
        event_action text NOT NULL,
        event_object text NOT NULL,
        owner_user_id bigint NOT NULL,
        http_auth_user text NOT NULL,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT webhook_subscriptions_company_event UNIQUE (company_id, event_object, event_action)
      )`);
    await db.query(`CREATE INDEX webhook_subscriptions_auth_user ON webhook_subscriptions (http_auth_user)`);
    await db.query(`CREATE INDEX inbox_events_company_fk ON inbox_events (company_id, received_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX inbox_events_company_fk`);
    await db.query(`DROP TABLE webhook_subscriptions`);
    await db.query(`DROP TABLE installations`);
    await db.query(`DROP TABLE companies`);
  }
}
