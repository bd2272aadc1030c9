import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Contracts moved by a merge before `former_deal_ids` existed: their `deal_merged` timeline lines name the deals. */
export class ContractFormerDealsFilled1764810100000 implements MigrationInterface {
  name = 'ContractFormerDealsFilled1764810100000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      UPDATE contracts c SET former_deal_ids = m.deal_ids
      FROM (SELECT contract_id, array_agg(DISTINCT (details->>'fromDealId')::bigint) AS deal_ids FROM contract_events WHERE type = 'deal_merged' GROUP BY contract_id) m
      WHERE c.id = m.contract_id`);
  }

  async down(): Promise<void> {
    // The column's own migration drops it.
  }
}
