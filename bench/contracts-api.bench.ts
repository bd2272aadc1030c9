import autocannon from 'autocannon';
import { cpuMsOf } from './support/app-process';
import type { FreshDatabase } from './support/database-servers';
import { explain } from './support/explain';
import { percentile, round, scaled } from './support/stats';
import { Stack, UNTHROTTLED } from './support/stack';

const COMPANIES = 1_000;
const CONTRACTS = 100_000;
const DEALS_PER_COMPANY = 50;
const FIRST_COMPANY = 9_000_001;
const USER = 1;
const CONNECTIONS = Number(process.env.BENCH_API_CONNECTIONS ?? 8);

/** 1,000 installed companies, 100 contracts each (2 per deal), 3 timeline events per contract. */
async function generate(stack: Stack): Promise<void> {
  await stack.db.query(
    `INSERT INTO companies (id, name, domain) SELECT $1::bigint + g, 'Bench ' || g, 'bench' || g FROM generate_series(0, $2 - 1) g`,
    [FIRST_COMPANY, COMPANIES],
  );
  await stack.db.query(
    `INSERT INTO installations (company_id, user_id, is_admin, api_domain, access_token, refresh_token, expires_at)
     SELECT $1::bigint + g, $3, true, 'http://127.0.0.1:9', 'unused', 'unused', now() + interval '1 day' FROM generate_series(0, $2 - 1) g`,
    [FIRST_COMPANY, COMPANIES, USER],
  );
  await stack.db.query(
    `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, title, status, signers, created_at)
     SELECT $1::bigint + g % $2, (g / $2) % $4 + 1, 'bench:' || g, 'bench-' || g, 'Contract ' || g,
            (ARRAY['waiting', 'completed', 'voided', 'declined'])[g % 4 + 1],
            jsonb_build_array(jsonb_build_object('name', 'Signer', 'email', 's' || g || '@example.test', 'status', 'waiting', 'signedAt', null)),
            now() - g * interval '1 second'
     FROM generate_series(0, $3 - 1) g`,
    [FIRST_COMPANY, COMPANIES, CONTRACTS, DEALS_PER_COMPANY],
  );
  await stack.db.query(
    `INSERT INTO contract_events (contract_id, type, at, dedupe_key)
     SELECT c.id, t.type, c.created_at + t.n * interval '1 minute', t.type FROM contracts c
     CROSS JOIN (VALUES (0, 'created'), (1, 'sent'), (2, 'viewed')) AS t (n, type)`,
  );
  await stack.db.query('ANALYZE');
}

/**
 * GET /api/deals/:dealId/contracts with a valid panel JWT for a random company and deal, at a fixed concurrency.
 * Each answer's latency is taken from autocannon's response events, so p95 is exact.
 */
export async function contractsApiBenchmark(database: FreshDatabase): Promise<Record<string, unknown>> {
  const stack = await Stack.start({ databaseUrl: database.url, mode: 'processes', ...UNTHROTTLED });
  try {
    const generating = Date.now();
    await generate(stack);
    const generateSeconds = round((Date.now() - generating) / 1000);
    const tokens = Array.from({ length: COMPANIES }, (_, index) => `Bearer ${stack.panelToken(FIRST_COMPANY + index, USER)}`);
    const pick = () => {
      const company = Math.floor(Math.random() * COMPANIES);
      return { path: `/api/deals/${1 + Math.floor(Math.random() * DEALS_PER_COMPANY)}/contracts`, headers: { authorization: tokens[company] } };
    };
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    const load = (duration: number, record: boolean) =>
      new Promise<void>((resolve, reject) => {
        const instance = autocannon(
          { url: stack.url, connections: CONNECTIONS, duration, timeout: 10, requests: [{ setupRequest: (request) => ({ ...request, ...pick() }) }] },
          (error) => (error ? reject(error) : resolve()),
        ) as { on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void };
        if (record) {
          instance.on('response', (_client, status, _bytes, ms) => {
            latencies.push(ms);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
          });
        }
      });
    await load(2, false);
    const duration = scaled(15, 4);
    const appCpuBefore = cpuMsOf(stack.apps[0].pid);
    await load(duration, true);
    const appCpuUsPerRequest = Math.round(((cpuMsOf(stack.apps[0].pid) - appCpuBefore) * 1000) / latencies.length);

    const plans = {
      contractsOfDeal: await explain(stack.db, 'SELECT * FROM contracts WHERE company_id = $1 AND deal_id = $2 ORDER BY created_at DESC, id DESC', [FIRST_COMPANY + 500, 7]),
      eventsOfContracts: await explain(
        stack.db,
        'SELECT * FROM contract_events WHERE contract_id IN (SELECT id FROM contracts WHERE company_id = $1 AND deal_id = $2) ORDER BY at, id',
        [FIRST_COMPANY + 500, 7],
      ),
      installation: await explain(stack.db, 'SELECT * FROM installations WHERE company_id = $1 AND user_id = $2', [FIRST_COMPANY + 500, USER]),
    };
    return {
      companies: COMPANIES,
      contracts: await stack.count('SELECT count(*) FROM contracts'),
      events: await stack.count('SELECT count(*) FROM contract_events'),
      generateSeconds,
      connections: CONNECTIONS,
      durationSeconds: duration,
      requests: latencies.length,
      statuses: Object.fromEntries(statuses),
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
      requestsPerSecond: round(latencies.length / duration, 0),
      appCpuUsPerRequest,
      seqScans: Object.entries(plans).filter(([, plan]) => plan.seqScan).map(([name]) => name),
      plans: Object.fromEntries(Object.entries(plans).map(([name, plan]) => [name, plan.plan])),
    };
  } finally {
    await stack.close();
  }
}
