import type { FreshDatabase } from './support/database-servers';
import { explain } from './support/explain';
import { round, scaled } from './support/stats';
import { Stack, UNTHROTTLED } from './support/stack';
import { CLAIM_DUE_CONTRACTS, Reconciler } from '../src/signing/reconciler.service';

const FIRST_COMPANY = 9_100_001;
const OTHER_COMPANIES = 200;

async function requestCount(stack: Stack): Promise<{ pipedrive: number; dottedsign: number }> {
  const count = async (response: Response) => ((await response.json()) as unknown[]).length;
  return { pipedrive: await count(await stack.sim('/requests')), dottedsign: await count(await stack.dsim('/requests')) };
}

async function cycle(stack: Stack) {
  await stack.db.query('UPDATE contracts SET last_checked_at = NULL WHERE last_checked_at IS NOT NULL');
  await stack.db.query('ANALYZE contracts');
  await Promise.all([stack.sim('/requests', undefined, 'DELETE'), stack.dsim('/requests', undefined, 'DELETE')]);
  const started = process.hrtime.bigint();
  const report = await stack.inProcess!.get(Reconciler).runCycle();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // The statement runCycle() sends, with its default limits (it claims again what the cycle just claimed).
  const selection = await explain(stack.db, CLAIM_DUE_CONTRACTS, [200, 50]);
  return { cycleMs: round(ms), report, apiCalls: await requestCount(stack), selectionPlan: selection.plan, selectionSeqScan: selection.seqScan };
}

/**
 * One reconciliation cycle with 10,000 open contracts, then again after 1,000,000 closed ones are added.
 * 50 open contracts belong to the installed demo company (its existing deal, no task yet: one Pipedrive deal read
 * each); the rest belong to 200 companies without an installation (skipped without API calls).
 */
export async function reconcileBenchmark(database: FreshDatabase): Promise<Record<string, unknown>> {
  const stack = await Stack.start({ databaseUrl: database.url, mode: 'in-process', ...UNTHROTTLED });
  try {
    await stack.installAndConnect({ autoSend: { enabled: false, pipelineIds: [] } });
    const open = scaled(10_000, 2_000);
    const closed = scaled(1_000_000, 100_000);
    await stack.db.query(`INSERT INTO companies (id, name, domain) SELECT $1::bigint + g, 'Other ' || g, 'other' || g FROM generate_series(0, $2 - 1) g`, [FIRST_COMPANY, OTHER_COMPANIES]);
    await stack.db.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, status) SELECT $1, $2, 'open:' || g, 'pending' FROM generate_series(1, 50) g`,
      [stack.demo.companyId, stack.demo.dealId],
    );
    await stack.db.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, status)
       SELECT $1::bigint + g % $2, g, 'open:' || g, 'open-' || g, 'waiting' FROM generate_series(1, $3 - 50) g`,
      [FIRST_COMPANY, OTHER_COMPANIES, open],
    );
    const withOpenOnly = await cycle(stack);

    const generating = Date.now();
    await stack.db.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, status, effects)
       SELECT $1::bigint + g % $2, g, 'closed:' || g, 'closed-' || g, (ARRAY['completed', 'declined', 'voided', 'expired', 'discarded'])[g % 5 + 1],
              CASE WHEN g % 5 = 4 THEN '{}'::jsonb ELSE jsonb_build_object('writeBackDone', now()) END
       FROM generate_series(1, $3) g`,
      [FIRST_COMPANY, OTHER_COMPANIES, closed],
    );
    const generateSeconds = round((Date.now() - generating) / 1000);
    const withClosed = await cycle(stack);
    return {
      open: await stack.count(`SELECT count(*) FROM contracts WHERE status IN ('pending', 'draft', 'waiting')`),
      closed: await stack.count(`SELECT count(*) FROM contracts WHERE status NOT IN ('pending', 'draft', 'waiting')`),
      generateSeconds,
      withOpenOnly,
      withClosed,
    };
  } finally {
    await stack.close();
  }
}
