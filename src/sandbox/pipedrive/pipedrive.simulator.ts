import express from 'express';
import { controlRouter } from '../kit/control-router';
import { FaultInjector } from '../kit/faults';
import { listen } from '../kit/http-server';
import type { RunningServer } from '../kit/http-server';
import { RequestLog } from '../kit/request-log';
import type { WebhookDispatcher } from '../kit/webhook-dispatcher';
import { apiRouter } from './api.router';
import type { AppRegistration } from './app-registration';
import { pipedriveControlRoutes } from './control.routes';
import { DealRecords } from './deal-records';
import { dealEndpoints } from './deals.endpoints';
import { seedDemoCompany } from './demo-seed';
import type { DemoCompany } from './demo-seed';
import type { EntityEvent } from './entity-events';
import { fileEndpoints } from './files.endpoints';
import { removeInstallation } from './installation-removal';
import { noteEndpoints } from './notes.endpoints';
import { oauthRoutes } from './oauth.routes';
import { PersonRecords } from './person-records';
import { personEndpoints } from './persons.endpoints';
import type { Deal, Note, Person, StoredFile, Webhook } from './pipedrive.entities';
import { DEFAULT_APP_SCOPES, RATE_LIMITS, TIMINGS } from './platform-facts';
import { RateLimiter } from './rate-limiter';
import type { BudgetStatus } from './rate-limiter';
import { SimulatorStore } from './simulator-store';
import { scaled } from './time-scale';
import { TokenRegistry } from './token-registry';
import type { Installation } from './token-registry';
import { notifyUninstall } from './uninstall-notifier';
import { userEndpoints } from './users.endpoints';
import { webhookEndpoints } from './webhooks.endpoints';
import { WebhookPublisher } from './webhook-publisher';
import type { LostEvent } from './webhook-publisher';

/** A compressed code still has to survive the browser's redirect to the app and the app's exchange. */
const MIN_SCALED_CODE_TTL_MS = 1_000;

export interface PipedriveSimulatorOptions {
  port?: number;
  clientId: string;
  clientSecret: string;
  /** The app's OAuth callback: redirect_uri must equal it, and uninstall DELETEs go to it. Unset → any redirect_uri. */
  appCallbackUrl?: string;
  /** Scopes granted to the app (default: the reference's minimal set). */
  scopes?: string[];
  accessTokenTtlSeconds?: number;
  /** Scales the code TTL (≥1 s), webhook retry delays and timeout (≥1 s), the 30-minute ban and the 3-day deletion. */
  timeScale?: number;
  rateLimit?: { burstPer2s?: number; dailyBudget?: number };
  /** Skip the consent page: approve at once as the demo company's admin. */
  autoApprove?: boolean;
  /**
   * How `GET /v2/deals/:id` answers for a deleted deal: 404 (`not_found`, the default) or 200 with `is_deleted: true`
   * (`flagged`). The reference lists `is_deleted` among the deal's fields; which answer Pipedrive gives is unverified,
   * so the app must handle both.
   */
  deletedDeals?: 'not_found' | 'flagged';
  /** How many of the latest requests, webhook attempts and lost events are kept for reading back (default DEFAULT_LOG_LIMIT). */
  logLimit?: number;
}

export type PipedriveSimulator = RunningServer & {
  webhooks: WebhookDispatcher;
  requests: RequestLog;
  faults: FaultInjector;
  /** Ids of the seeded "Acme Sales" company; stable across resets. */
  readonly demo: DemoCompany;
  apiDomain(companyId: number): string;
  deal(dealId: number): Readonly<Deal> | undefined;
  deals(companyId: number): ReadonlyArray<Readonly<Deal>>;
  person(personId: number): Readonly<Person> | undefined;
  files(companyId: number): ReadonlyArray<Readonly<StoredFile>>;
  notes(companyId: number): ReadonlyArray<Readonly<Note>>;
  webhookSubscriptions(companyId: number): ReadonlyArray<Readonly<Webhook>>;
  lostEvents(): LostEvent[];
  installations(): Installation[];
  budget(companyId: number): BudgetStatus;
};

export async function startPipedriveSimulator(options: PipedriveSimulatorOptions): Promise<PipedriveSimulator> {
  const timeScale = options.timeScale ?? 1;
  const app: AppRegistration = {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    callbackUrl: options.appCallbackUrl,
    scopes: [...(options.scopes ?? DEFAULT_APP_SCOPES)],
    autoApprove: options.autoApprove ?? false,
  };
  const store = new SimulatorStore();
  const tokens = new TokenRegistry({
    codeTtlMs: Math.max(MIN_SCALED_CODE_TTL_MS, scaled(TIMINGS.authorizationCodeTtlMs, timeScale)),
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? TIMINGS.accessTokenTtlSeconds,
    refreshTokenIdleTtlMs: TIMINGS.refreshTokenIdleTtlMs,
  });
  const rateLimiter = new RateLimiter({
    burstPerWindow: options.rateLimit?.burstPer2s ?? RATE_LIMITS.burstPerWindow,
    burstWindowMs: RATE_LIMITS.burstWindowMs,
    dailyBudget: options.rateLimit?.dailyBudget,
    dailyTokensPerSeat: RATE_LIMITS.dailyTokensPerSeat,
  });
  const publisher = new WebhookPublisher(store, timeScale, options.logLimit);
  const emit = (event: EntityEvent) => publisher.publish(event);
  const deals = new DealRecords(store, emit, options.deletedDeals ?? 'not_found');
  const persons = new PersonRecords(store, emit);
  const requests = new RequestLog(options.logLimit);
  const faults = new FaultInjector();

  let baseUrl = '';
  const apiDomain = (companyId: number) => `${baseUrl}/c/${companyId}`;
  let demo = seedDemoCompany(store, deals, persons);
  const reset = () => {
    publisher.clear();
    requests.clear();
    faults.clear();
    tokens.clear();
    rateLimiter.reset();
    store.clear();
    app.scopes = [...(options.scopes ?? DEFAULT_APP_SCOPES)];
    app.callbackUrl = options.appCallbackUrl;
    app.autoApprove = options.autoApprove ?? false;
    demo = seedDemoCompany(store, deals, persons);
  };
  const uninstall = async (companyId: number, userId: number) => {
    const { webhooksDeleted } = removeInstallation(store, tokens, app.clientId, companyId, userId);
    const notice = await notifyUninstall(app, companyId, userId, TIMINGS.webhookTimeoutMs);
    return { webhooksDeleted, notice };
  };

  const control = controlRouter({ log: requests, faults, webhooks: publisher.dispatcher, reset });
  control.use(
    pipedriveControlRoutes({ app, store, tokens, deals, persons, rateLimiter, apiDomain, uninstall, demo: () => demo, lostEvents: () => publisher.lostEvents() }),
  );

  const server = express();
  server.disable('x-powered-by');
  // Nothing sends conditional requests to a simulator, and an ETag costs a hash of every answer.
  server.set('etag', false);
  server.use('/_sim', control);
  server.use(requests.middleware());
  server.use(faults.middleware());
  server.use(oauthRoutes({ app, store, tokens, apiDomain, defaultUserId: () => demo.adminUserId }));
  server.use(
    '/c/:companyId/api',
    apiRouter({ store, tokens, rateLimiter, apiDomain }, [
      ...userEndpoints(),
      ...dealEndpoints(deals),
      ...personEndpoints(persons),
      ...fileEndpoints(store, deals),
      ...noteEndpoints(store, deals),
      ...webhookEndpoints(store),
    ]),
  );

  const running = await listen(server, options.port ?? 0);
  baseUrl = running.url;
  const copy = <T>(record: T | undefined) => (record === undefined ? undefined : structuredClone(record));
  return {
    ...running,
    close: async () => {
      publisher.close();
      await running.close();
    },
    webhooks: publisher.dispatcher,
    requests,
    faults,
    get demo() {
      return demo;
    },
    apiDomain,
    deal: (dealId) => copy(store.deals.get(dealId)),
    deals: (companyId) => store.dealsOf(companyId).map((deal) => structuredClone(deal)),
    person: (personId) => copy(store.persons.get(personId)),
    files: (companyId) => store.filesOf(companyId).map((file) => structuredClone(file)),
    notes: (companyId) => store.notesOf(companyId).map((note) => structuredClone(note)),
    webhookSubscriptions: (companyId) => store.webhooksOf(companyId).map((webhook) => structuredClone(webhook)),
    lostEvents: () => publisher.lostEvents(),
    installations: () => tokens.installations(),
    budget: (companyId) => {
      const company = store.companies.get(companyId);
      if (!company) throw new Error(`Unknown company ${companyId}`);
      return rateLimiter.budgetStatus({ companyId, planMultiplier: company.planMultiplier, seats: store.usersOf(companyId).length });
    },
  };
}
