import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The deals a contract was on before merges moved it: its tasks' metadata may name them. A constant default adds the
 * column without rewriting the table; the brief exclusive lock it needs gives up after 10 s (the process then fails
 * to start, and starting it again retries) rather than queue every contract read behind a long deal transaction.
 */
export class ContractFormerDeals1764810000000 implements MigrationInterface {
  name = 'ContractFormerDeals1764810000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`SET LOCAL lock_timeout = '10s'`);
    await db.query(`ALTER TABLE contracts ADD COLUMN former_deal_ids bigint[] NOT NULL DEFAULT '{}'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE contracts DROP COLUMN former_deal_ids');
  }
}
