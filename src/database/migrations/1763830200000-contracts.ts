import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Contracts1763830200000 implements MigrationInterface {
  name = 'Contracts1763830200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE esign_connections (
        company_id bigint PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
        provider text NOT NULL DEFAULT 'dottedsign',
        mode text NOT NULL CHECK (mode IN ('oauth', 'client_credentials')),
        account_email text,
        access_token text,
        refresh_token text,
        expires_at timestamptz,
        connected_by_user_id bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE contracts (
        id bigserial PRIMARY KEY,
        company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
        deal_id bigint NOT NULL,
        provider text NOT NULL DEFAULT 'dottedsign',
        task_id text,
        intent_key text NOT NULL,
        template_id text,
        title text NOT NULL DEFAULT '',
        status text NOT NULL DEFAULT 'pending' CHECK (status IN
          ('pending', 'needs_signer', 'failed', 'draft', 'waiting', 'completed', 'declined', 'voided', 'expired', 'discarded')),
        status_reason text,
        signers jsonb NOT NULL DEFAULT '[]'::jsonb,
        ordered boolean NOT NULL DEFAULT false,
        files jsonb NOT NULL DEFAULT '[]'::jsonb,
        effects jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_by_user_id bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        last_checked_at timestamptz,
        CONSTRAINT contracts_provider_task UNIQUE (provider, task_id),
        CONSTRAINT contracts_company_intent UNIQUE (company_id, intent_key)
      )`);
    await db.query(`CREATE INDEX contracts_company_deal ON contracts (company_id, deal_id, created_at DESC)`);
    // What reconciliation visits: open contracts, and closed ones whose write-back to Pipedrive is unfinished.
    await db.query(`CREATE INDEX contracts_unsettled ON contracts (last_checked_at NULLS FIRST, id)
      WHERE status IN ('pending', 'draft', 'waiting')
         OR (status IN ('completed', 'declined', 'voided', 'expired') AND NOT (effects ? 'writeBackDone'))`);
    await db.query(`
      CREATE TABLE contract_events (
        id bigserial PRIMARY KEY,
        contract_id bigint NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
        type text NOT NULL,
        actor text,
        at timestamptz NOT NULL DEFAULT now(),
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        dedupe_key text NOT NULL,
        CONSTRAINT contract_events_dedupe UNIQUE (contract_id, dedupe_key)
      )`);
    await db.query(`CREATE INDEX contract_events_contract ON contract_events (contract_id, at)`);
    await db.query(`
      CREATE TABLE deal_deletions (
        company_id bigint NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
        deal_id bigint NOT NULL,
        deleted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (company_id, deal_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE deal_deletions`);
    await db.query(`DROP TABLE contract_events`);
    await db.query(`DROP TABLE contracts`);
    await db.query(`DROP TABLE esign_connections`);
  }
}
