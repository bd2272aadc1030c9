import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The deals a contract was on before merges moved it: its tasks' metadata may name them. */
export class ContractFormerDeals1764810000000 implements MigrationInterface {
  name = 'ContractFormerDeals1764810000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE contracts ADD COLUMN former_deal_ids bigint[] NOT NULL DEFAULT '{}'`);
    await db.query(`
      UPDATE contracts c SET former_deal_ids = m.deal_ids
      FROM (SELECT contract_id, array_agg(DISTINCT (details->>'fromDealId')::bigint) AS deal_ids FROM contract_events WHERE type = 'deal_merged' GROUP BY contract_id) m
      WHERE c.id = m.contract_id`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE contracts DROP COLUMN former_deal_ids');
  }
}
