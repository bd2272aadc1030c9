import autocannon from 'autocannon';
import { SecretBox } from '../src/common/secret-box';
import { USER_ACCESS } from '../src/installations/installations.repository';
import { installationToken } from '../src/installations/sealed-tokens';
import { DEAL_CONTRACTS_WITH_TIMELINE } from '../src/signing/contracts.repository';
import { cpuMsOf } from './support/app-process';
import type { FreshDatabase } from './support/database-servers';
import { explain } from './support/explain';
import { percentile, round, scaled } from './support/stats';
import { Stack, UNTHROTTLED } from './support/stack';

const COMPANIES = 1_000;
const DEALS_PER_COMPANY = 50;
const CONTRACTS_PER_DEAL = 2;
/** Panels open at once, on deals spread over every company: the deals whose contracts are polled. */
const OPEN_PANELS = 5_000;
const CONNECTIONS = Number(process.env.BENCH_API_CONNECTIONS ?? 8);
/** Companies set up in the Pipedrive simulator at once. */
const SETUP_PARALLEL = 20;

interface BenchCompany {
  companyId: number;
  userId: number;
  dealIds: number[];
  tokens: { access_token: string; refresh_token: string; api_domain: string; expires_in: number };
}

/**
 * 1,000 companies in the Pipedrive simulator, each with a (non-admin) user who installed the app and owns 50 deals;
 * Pipedrive answers the panel's visibility check for them as for any user.
 */
async function createInPipedrive(stack: Stack): Promise<BenchCompany[]> {
  const control = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await stack.sim(path, body);
    if (response.status !== 201) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const one = async (index: number): Promise<BenchCompany> => {
    const { id: companyId } = await control<{ id: number }>('/companies', { name: `Bench ${index}`, domain: `bench${index}` });
    const { id: userId } = await control<{ id: number }>(`/companies/${companyId}/users`, { name: `Seller ${index}`, isAdmin: false });
    const deals = await control<Array<{ id: number }>>(`/companies/${companyId}/deals`, Array.from({ length: DEALS_PER_COMPANY }, (_, deal) => ({ title: `Deal ${deal}`, owner_id: userId, user_id: userId })));
    const tokens = await control<BenchCompany['tokens']>(`/companies/${companyId}/users/${userId}/grant`, {});
    return { companyId, userId, dealIds: deals.map((deal) => deal.id), tokens };
  };
  const companies: BenchCompany[] = [];
  for (let first = 0; first < COMPANIES; first += SETUP_PARALLEL) {
    companies.push(...(await Promise.all(Array.from({ length: Math.min(SETUP_PARALLEL, COMPANIES - first) }, (_, offset) => one(first + offset)))));
  }
  return companies;
}

/** Their installations (tokens sealed as the app seals them), 100 contracts each (2 per deal), 3 timeline events per contract. */
async function generate(stack: Stack, companies: BenchCompany[]): Promise<void> {
  const box = new SecretBox(stack.encryptionKey);
  await stack.db.query(`INSERT INTO companies (id, name, domain) SELECT id, 'Bench ' || id, 'bench' || id FROM unnest($1::bigint[]) id`, [companies.map((c) => c.companyId)]);
  await stack.db.query(
    `INSERT INTO installations (company_id, user_id, is_admin, api_domain, access_token, refresh_token, expires_at, scopes)
     SELECT company_id, user_id, false, api_domain, access_token, refresh_token, now() + interval '1 hour', ARRAY['base', 'deals:full', 'contacts:read', 'admin']
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[]) AS i (company_id, user_id, api_domain, access_token, refresh_token)`,
    [
      companies.map((c) => c.companyId),
      companies.map((c) => c.userId),
      companies.map((c) => c.tokens.api_domain),
      companies.map((c) => box.encrypt(c.tokens.access_token, installationToken(String(c.companyId), String(c.userId), 'access_token'))),
      companies.map((c) => box.encrypt(c.tokens.refresh_token, installationToken(String(c.companyId), String(c.userId), 'refresh_token'))),
    ],
  );
  const deals = companies.flatMap((c) => c.dealIds.map((dealId) => [c.companyId, dealId]));
  await stack.db.query(
    `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, title, status, signers, created_at)
     SELECT d.company_id, d.deal_id, 'bench:' || d.deal_id || ':' || n, 'bench-' || d.deal_id || '-' || n, 'Contract ' || n,
            (ARRAY['waiting', 'completed', 'voided', 'declined'])[n % 4 + 1],
            jsonb_build_array(jsonb_build_object('name', 'Signer', 'email', 's' || d.deal_id || '-' || n || '@example.test', 'status', 'waiting', 'signedAt', null)),
            now() - (d.deal_id * $3 + n) * interval '1 second'
     FROM unnest($1::bigint[], $2::bigint[]) AS d (company_id, deal_id) CROSS JOIN generate_series(0, $3 - 1) n`,
    [deals.map(([companyId]) => companyId), deals.map(([, dealId]) => dealId), CONTRACTS_PER_DEAL],
  );
  await stack.db.query(
    `INSERT INTO contract_events (contract_id, type, at, dedupe_key)
     SELECT c.id, t.type, c.created_at + t.n * interval '1 minute', t.type FROM contracts c
     CROSS JOIN (VALUES (0, 'created'), (1, 'sent'), (2, 'viewed')) AS t (n, type)`,
  );
  await stack.db.query('ANALYZE');
}

type Request = { path: string; headers: Record<string, string> };
/** What a panel asks for when Pipedrive opens it: its page, then (after the SDK handshake) the contracts and settings. */
type Panel = { page: Request; contracts: Request; settings: Request };
type Step = { next: (context: Record<string, unknown>) => Request; record?: Latencies };

/**
 * GET /api/deals/:dealId/contracts with a valid panel JWT, at a fixed concurrency, over deals drawn from all companies,
 * in three passes after a warm-up on other deals:
 * - first open without its page: 5,000 deals once each, their contracts then the settings, as when another process
 *   served the page; each contracts answer waits for the visibility check, one Pipedrive read as the user;
 * - first open: 5,000 other deals (the open panels) once each, as Pipedrive opens a panel: its page (which starts
 *   that read), then the contracts at once, with none of the SDK handshake that comes between them in a browser, then
 *   the settings;
 * - polls: the open panels' contracts at random for 15 s, answered with the check remembered.
 * Each answer's latency is taken from autocannon's response events, so percentiles are exact.
 */
export async function contractsApiBenchmark(database: FreshDatabase): Promise<Record<string, unknown>> {
  const stack = await Stack.start({ databaseUrl: database.url, mode: 'processes', ...UNTHROTTLED });
  try {
    const generating = Date.now();
    const companies = await createInPipedrive(stack);
    await generate(stack, companies);
    const generateSeconds = round((Date.now() - generating) / 1000);
    const dealsPerSet = OPEN_PANELS / COMPANIES;
    /** A panel on each of `count` deals: the `set`th group of `dealsPerSet` deals of every company. */
    const panelsOn = (set: number, count = OPEN_PANELS): Panel[] =>
      Array.from({ length: count }, (_, index) => {
        const company = companies[index % COMPANIES];
        const dealId = company.dealIds[set * dealsPerSet + (Math.floor(index / COMPANIES) % dealsPerSet)];
        const token = stack.panelToken(company.companyId, company.userId);
        const bearer = { authorization: `Bearer ${token}` };
        return {
          page: { path: `/panel?token=${token}&id=bench&selectedIds=${dealId}&resource=deal&view=details`, headers: {} },
          contracts: { path: `/api/deals/${dealId}/contracts`, headers: bearer },
          settings: { path: '/api/settings', headers: bearer },
        };
      });
    const openPanels = panelsOn(0);
    const requests = openPanels.map((panel) => panel.contracts);
    const dealReads = () => stack.pipedrive.requests.entries({ method: 'GET', path: /\/api\/v2\/deals\/\d+$/ }).length;

    /**
     * Each connection sends the steps in turn, with a context of its own, and each step's answers go to its `record`;
     * a load with errors, timeouts or answers other than 2xx fails, so the figures are of answers only.
     */
    const load = (options: { duration?: number; amount?: number; steps: Step[] }) =>
      new Promise<void>((resolve, reject) => {
        // autocannon shares `amount` among the connections: each must end after a whole sequence of steps.
        if (options.amount && options.amount % (options.steps.length * CONNECTIONS)) throw new Error(`${options.amount} requests do not split into whole sequences over ${CONNECTIONS} connections`);
        const instance = autocannon(
          {
            url: stack.url,
            connections: CONNECTIONS,
            ...(options.amount ? { amount: options.amount } : { duration: options.duration }),
            timeout: 10,
            requests: options.steps.map((step) => ({ setupRequest: (request, context) => ({ ...request, ...step.next(context) }) })),
          },
          (error, result) => {
            if (error) return reject(error);
            if (result.errors || result.timeouts || result.non2xx) return reject(new Error(`contracts API load: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} answers other than 2xx`));
            resolve();
          },
        ) as { on(event: 'response', listener: (client: { requestIterator: { currentRequestIndex: number } }, status: number, bytes: number, ms: number) => void): void };
        instance.on('response', (client, status, _bytes, ms) => options.steps[client.requestIterator.currentRequestIndex].record?.add(status, ms));
      });
    /** The steps of opening each panel in turn: the first step takes the connection's next panel. */
    const opening = (panels: Panel[], parts: Array<keyof Panel>, records: Partial<Record<keyof Panel, Latencies>> = {}): Step[] => {
      let nextPanel = 0;
      return parts.map((part, index) => ({
        next: (context) => {
          if (index === 0) context.panel = panels[nextPanel++ % panels.length];
          return (context.panel as Panel)[part];
        },
        record: records[part],
      }));
    };

    // A warm-up on deals no pass measures, so that neither measured pass meets a cold process.
    const warmUp = panelsOn(2, COMPANIES);
    await load({ amount: warmUp.length * 2, steps: opening(warmUp, ['contracts', 'settings']) });

    const withoutPage = { contracts: new Latencies(), settings: new Latencies() };
    const readsBeforeWithoutPage = dealReads();
    await load({ amount: OPEN_PANELS * 2, steps: opening(panelsOn(1), ['contracts', 'settings'], withoutPage) });
    const withoutPageDealReads = dealReads() - readsBeforeWithoutPage;

    const withPage = { page: new Latencies(), contracts: new Latencies(), settings: new Latencies() };
    const readsBeforeFirstOpen = dealReads();
    await load({ amount: OPEN_PANELS * 3, steps: opening(openPanels, ['page', 'contracts', 'settings'], withPage) });
    const firstOpenDealReads = dealReads() - readsBeforeFirstOpen;

    const polls = new Latencies();
    const random = () => requests[Math.floor(Math.random() * requests.length)];
    const duration = scaled(15, 4);
    const readsBeforePolls = dealReads();
    const appCpuBefore = cpuMsOf(stack.apps[0].pid);
    await load({ duration, steps: [{ next: random, record: polls }] });
    const appCpuUsPerRequest = Math.round(((cpuMsOf(stack.apps[0].pid) - appCpuBefore) * 1000) / polls.count);
    const pollDealReads = dealReads() - readsBeforePolls;

    const [sample] = companies.slice(500);
    const sampleBody = (await (await fetch(`${stack.url}/api/deals/${sample.dealIds[7]}/contracts`, { headers: { authorization: `Bearer ${stack.panelToken(sample.companyId, sample.userId)}` } })).json()) as {
      contracts: unknown[];
    };
    if (sampleBody.contracts?.length !== CONTRACTS_PER_DEAL) throw new Error(`contracts API answered ${JSON.stringify(sampleBody).slice(0, 200)}, not the deal's ${CONTRACTS_PER_DEAL} contracts`);
    // The statements the endpoint sends, as it sends them.
    const plans = {
      dealContractsWithTimeline: await explain(stack.db, DEAL_CONTRACTS_WITH_TIMELINE, [sample.companyId, sample.dealIds[7]]),
      userAccess: await explain(stack.db, USER_ACCESS, [sample.companyId, sample.userId]),
    };
    return {
      companies: COMPANIES,
      deals: companies.length * DEALS_PER_COMPANY,
      openPanels: requests.length,
      contracts: await stack.count('SELECT count(*) FROM contracts'),
      events: await stack.count('SELECT count(*) FROM contract_events'),
      generateSeconds,
      connections: CONNECTIONS,
      firstOpenWithoutPage: { contracts: withoutPage.contracts.summary(), settings: withoutPage.settings.summary(), pipedriveDealReads: withoutPageDealReads },
      firstOpen: { page: withPage.page.summary(), contracts: withPage.contracts.summary(), settings: withPage.settings.summary(), pipedriveDealReads: firstOpenDealReads },
      durationSeconds: duration,
      ...polls.summary(),
      requestsPerSecond: round(polls.count / duration, 0),
      pipedriveDealReadsWhilePolling: pollDealReads,
      appCpuUsPerRequest,
      seqScans: Object.entries(plans).filter(([, plan]) => plan.seqScan).map(([name]) => name),
      plans: Object.fromEntries(Object.entries(plans).map(([name, plan]) => [name, plan.plan])),
    };
  } finally {
    await stack.close();
  }
}

class Latencies {
  private readonly latencies: number[] = [];
  private readonly statuses = new Map<number, number>();

  get count(): number {
    return this.latencies.length;
  }

  add(status: number, ms: number): void {
    this.latencies.push(ms);
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  summary() {
    const all = this.latencies;
    return {
      requests: all.length,
      statuses: Object.fromEntries(this.statuses),
      latencyMs: { p50: percentile(all, 50), p95: percentile(all, 95), p99: percentile(all, 99), max: percentile(all, 100) },
    };
  }
}
