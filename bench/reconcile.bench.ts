import type { FreshDatabase } from './support/database-servers';
import { explain } from './support/explain';
import { percentile, round, scaled } from './support/stats';
import { type ControlAnswer, Stack, UNTHROTTLED } from './support/stack';
import { DottedSignConnections } from '../src/dottedsign/dottedsign-connections.service';
import { E_SIGN_PROVIDER } from '../src/signing/contract-sender.service';
import type { ESignProvider } from '../src/signing/esign-provider.port';
import { CLAIM_DUE_CONTRACTS, Reconciler } from '../src/signing/reconciler.service';

const FIRST_COMPANY = 9_100_001;
const OTHER_COMPANIES = 200;
/** The installed company's open contracts, each with a task out for signature at the DottedSign simulator. */
const CHECKED_WITH_TASKS = 50;
const CYCLES = scaled(5, 3);
const OPEN_STATUSES = `('pending', 'draft', 'waiting')`;

async function requestCount(stack: Stack): Promise<{ pipedrive: number; dottedsign: number }> {
  const count = async (response: ControlAnswer) => ((await response.json()) as unknown[]).length;
  return { pipedrive: await count(await stack.sim('/requests')), dottedsign: await count(await stack.dsim('/requests')) };
}

/** One cycle from a clean slate (every contract due again), its time and the vendor calls it made. */
async function cycle(stack: Stack) {
  await stack.db.query('UPDATE contracts SET last_checked_at = NULL WHERE last_checked_at IS NOT NULL');
  await Promise.all([stack.sim('/requests', undefined, 'DELETE'), stack.dsim('/requests', undefined, 'DELETE')]);
  const started = process.hrtime.bigint();
  const report = await stack.inProcess!.get(Reconciler).runCycle();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const closedClaimed = await stack.count(`SELECT count(*) FROM contracts WHERE last_checked_at IS NOT NULL AND status NOT IN ${OPEN_STATUSES}`);
  if (closedClaimed) throw new Error(`the cycle checked ${closedClaimed} closed contracts`);
  return { ms, report, apiCalls: await requestCount(stack) };
}

/** Several cycles: their median time, and the calls and report, which must be the same in each. */
async function cycles(stack: Stack) {
  const runs = [];
  for (let index = 0; index < CYCLES; index += 1) runs.push(await cycle(stack));
  const [first] = runs;
  const differing = runs.find((run) => JSON.stringify([run.apiCalls, run.report]) !== JSON.stringify([first.apiCalls, first.report]));
  if (differing) throw new Error(`cycles differ: ${JSON.stringify([first.apiCalls, first.report])} against ${JSON.stringify([differing.apiCalls, differing.report])}`);
  // The statement runCycle() sends, with its default limits (it claims again what the last cycle claimed).
  const selection = await explain(stack.db, CLAIM_DUE_CONTRACTS, [200, 50]);
  return {
    cycles: CYCLES,
    cycleMs: { median: round(percentile(runs.map((run) => run.ms), 50)), all: runs.map((run) => round(run.ms)) },
    report: first.report,
    apiCalls: first.apiCalls,
    selectionPlan: selection.plan,
    selectionSeqScan: selection.seqScan,
  };
}

/** What a cleanly run database looks like after a bulk load: visibility map set, statistics fresh, no dirty backlog. */
async function settle(stack: Stack): Promise<void> {
  await stack.db.query('VACUUM ANALYZE contracts');
  await stack.db.query('CHECKPOINT');
}

/**
 * Reconciliation cycles with 10,000 open contracts, then again after 1,000,000 closed ones are added.
 * - The installed, connected demo company has 50 open contracts whose tasks are out for signature at the DottedSign
 *   simulator: each check reads its task there and its deal in Pipedrive.
 * - The other open contracts belong to 200 companies without an installation (checked, then skipped without calls).
 * - Half the closed contracts are the demo company's, half the others': a cycle that chose one of the demo company's
 *   would call the vendors for it, and any closed one it claims fails the run.
 */
export async function reconcileBenchmark(database: FreshDatabase): Promise<Record<string, unknown>> {
  const stack = await Stack.start({ databaseUrl: database.url, mode: 'in-process', ...UNTHROTTLED });
  try {
    await stack.installAndConnect({ autoSend: { enabled: false, pipelineIds: [] } });
    const open = scaled(10_000, 2_000);
    const closed = scaled(1_000_000, 100_000);
    const { companyId, dealId } = stack.demo;
    const provider = stack.inProcess!.get<ESignProvider>(E_SIGN_PROVIDER);
    const session = await stack.inProcess!.get(DottedSignConnections).session(String(companyId));
    // Their webhooks (created, sent) are held for good: the cycle is the only reader of these tasks.
    await stack.dsim('/webhooks/hold', {});
    const tasks = [];
    for (let index = 0; index < CHECKED_WITH_TASKS; index += 1) {
      tasks.push(
        await provider.createFromTemplate(session, {
          title: `Reconciled ${index}`,
          templateId: String(stack.templateId),
          signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }],
          ordered: false,
          metadata: { pipedrive_deal_id: String(dealId), pipedrive_company_id: String(companyId), pipedrive_contract_id: `bench-${index}` },
        }),
      );
    }
    await stack.db.query(`INSERT INTO companies (id, name, domain) SELECT $1::bigint + g, 'Other ' || g, 'other' || g FROM generate_series(0, $2 - 1) g`, [FIRST_COMPANY, OTHER_COMPANIES]);
    await stack.db.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, status, signers)
       SELECT $1, $2, 'checked:' || t.n, t.task_id, 'waiting', '[{"name": "Pia Buyer", "email": "pia@customer.test", "status": "waiting", "signedAt": null}]'
       FROM unnest($3::text[]) WITH ORDINALITY AS t (task_id, n)`,
      [companyId, dealId, tasks.map((task) => task.taskId)],
    );
    await stack.db.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, status)
       SELECT $1::bigint + g % $2, g, 'open:' || g, 'open-' || g, 'waiting' FROM generate_series(1, $3::int - $4::int) g`,
      [FIRST_COMPANY, OTHER_COMPANIES, open, CHECKED_WITH_TASKS],
    );
    await settle(stack);
    const withOpenOnly = await cycles(stack);

    const generating = Date.now();
    await stack.db.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, status, effects)
       SELECT CASE WHEN g % 2 = 0 THEN $4::bigint ELSE $1::bigint + (g / 2) % $2 END, g, 'closed:' || g, 'closed-' || g,
              (ARRAY['completed', 'declined', 'voided', 'expired', 'discarded'])[g % 5 + 1],
              CASE WHEN g % 5 = 4 THEN '{}'::jsonb ELSE jsonb_build_object('writeBackDone', now()) END
       FROM generate_series(1, $3) g`,
      [FIRST_COMPANY, OTHER_COMPANIES, closed, companyId],
    );
    await settle(stack);
    const generateSeconds = round((Date.now() - generating) / 1000);
    const withClosed = await cycles(stack);
    if (JSON.stringify(withClosed.apiCalls) !== JSON.stringify(withOpenOnly.apiCalls)) {
      throw new Error(`closed contracts changed the vendor calls: ${JSON.stringify(withOpenOnly.apiCalls)} → ${JSON.stringify(withClosed.apiCalls)}`);
    }
    return {
      open: await stack.count(`SELECT count(*) FROM contracts WHERE status IN ${OPEN_STATUSES}`),
      closed: await stack.count(`SELECT count(*) FROM contracts WHERE status NOT IN ${OPEN_STATUSES}`),
      closedOfInstalledCompany: await stack.count(`SELECT count(*) FROM contracts WHERE company_id = $1 AND status NOT IN ${OPEN_STATUSES}`, [companyId]),
      generateSeconds,
      withOpenOnly,
      withClosed,
      medianRatio: round(withClosed.cycleMs.median / withOpenOnly.cycleMs.median, 2),
    };
  } finally {
    await stack.close();
  }
}
