import { Client } from 'pg';
const plans = require('pg-boss/src/plans');
(async () => {
  const c = new Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${process.argv[2]}` });
  await c.connect();
  const sql = plans.fetchNextJob('pgboss')({ includeMetadata: true });
  await c.query('BEGIN');
  if (process.argv[3]) await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
  const t = Date.now();
  const { rows } = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, ['inbox.process', 32]);
  console.log('took', Date.now() - t, 'ms');
  console.log(rows.map((r: any) => r['QUERY PLAN']).join('\n'));
  await c.query('ROLLBACK');
  await c.end();
})();
