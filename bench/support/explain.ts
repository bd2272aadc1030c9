import type { Client } from 'pg';

/** EXPLAIN (ANALYZE, BUFFERS) as text, and whether the plan reads the table without an index. */
export async function explain(db: Client, sql: string, params: unknown[] = []): Promise<{ plan: string; seqScan: boolean }> {
  const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
  const plan = (rows as Array<{ 'QUERY PLAN': string }>).map((row) => row['QUERY PLAN']).join('\n');
  return { plan, seqScan: /Seq Scan/.test(plan) };
}
