import { randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { controlRouter } from '../kit/control-router';
import { FaultInjector } from '../kit/faults';
import { type RunningServer, listen } from '../kit/http-server';
import { RequestLog } from '../kit/request-log';
import { SimClock } from '../kit/sim-clock';
import { WebhookDispatcher } from '../kit/webhook-dispatcher';
import { dottedSignApiRoutes } from './dottedsign-api.routes';
import { addDottedSignControlRoutes } from './dottedsign-control.routes';
import { DottedSignError } from './dottedsign-error';
import { type OAuthState, dottedSignOAuthRoutes } from './dottedsign-oauth.routes';
import { type DottedSignState, DottedSignStore } from './dottedsign-store';
import { signingPageRoutes } from './signing-page.routes';
import { DEFAULT_WEBHOOK_FORMAT, TaskWebhooks, WEBHOOK_RETRY_DELAYS_MS, WEBHOOK_TIMEOUT_MS } from './task-webhooks';

export interface DottedSignSimulatorOptions {
  port?: number;
  clientId: string;
  clientSecret: string;
  /** The app's `POST /webhooks/dottedsign` (one URL per DottedSign application); settable later. */
  webhookUrl?: string;
  /** Default 3600. */
  accessTokenTtlSeconds?: number;
  /** Scales webhook retry delays and timeouts (0.001: seconds become milliseconds). */
  timeScale?: number;
  /** Default 600 requests per 60 s for the whole API. */
  rateLimit?: { requests: number; windowMs: number };
  /** Default 300. */
  downloadLinkTtlSeconds?: number;
  /** Approve every authorization request at once as the owner account, without the approval page. */
  autoApprove?: boolean;
  /** The account `client_credentials` acts as (the owner of the DottedSign application). */
  ownerAccount?: string;
  /** How many of the latest requests and webhook attempts are kept for reading back (default DEFAULT_LOG_LIMIT). */
  logLimit?: number;
}

export interface DottedSignSimulator extends RunningServer {
  /** Read-only view of accounts, templates and tasks; change them through the API or `/_sim`. */
  state: DottedSignState;
  webhooks: WebhookDispatcher;
  log: RequestLog;
  clock: SimClock;
  ownerAccount: string;
  setWebhookUrl(url: string | undefined): void;
}

const DEFAULT_OWNER = 'owner@sandbox.test';
const OWNER_QUOTA = 1000;

export async function startDottedSignSimulator(options: DottedSignSimulatorOptions): Promise<DottedSignSimulator> {
  const ownerAccount = options.ownerAccount ?? DEFAULT_OWNER;
  let baseUrl = '';
  const clock = new SimClock();
  const log = new RequestLog(options.logLimit);
  const faults = new FaultInjector();
  const webhooks = new WebhookDispatcher({ retryDelaysMs: WEBHOOK_RETRY_DELAYS_MS, timeoutMs: WEBHOOK_TIMEOUT_MS, timeScale: options.timeScale, logLimit: options.logLimit });
  const taskWebhooks = new TaskWebhooks(webhooks, options.clientSecret, options.webhookUrl);
  const store = new DottedSignStore(clock, (task, event) => taskWebhooks.publish(task, event));
  const oauth: OAuthState = {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    ownerAccount,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    autoApprove: options.autoApprove ?? false,
    clock,
    accessTokens: new Map(),
    refreshTokens: new Map(),
    codes: new Map(),
    accounts: () => [...store.accounts.keys()],
    approve: (account) => store.ensureAccount(account),
  };
  const seed = () => {
    store.addAccount(ownerAccount, OWNER_QUOTA);
    store.addTemplate(ownerAccount, 'Sales contract', ['Customer']);
    store.addTemplate(ownerAccount, 'Mutual NDA', ['Customer', 'Company']);
  };
  seed();

  const control = controlRouter({
    log,
    faults,
    webhooks,
    clock,
    reset: () => {
      webhooks.clear();
      store.reset();
      oauth.accessTokens.clear();
      oauth.refreshTokens.clear();
      oauth.codes.clear();
      log.clear();
      faults.clear();
      clock.reset();
      taskWebhooks.setUrl(options.webhookUrl);
      taskWebhooks.setFormat(DEFAULT_WEBHOOK_FORMAT);
      seed();
    },
  });
  addDottedSignControlRoutes(control, { store, oauth, taskWebhooks });
  control.use(answerDottedSignErrors);

  const app = express();
  app.disable('x-powered-by');
  // Nothing sends conditional requests to a simulator, and an ETag costs a hash of every answer.
  app.set('etag', false);
  app.use(log.middleware());
  // Parsed before faults, so a faulted request's body still shows in the request log.
  app.use(express.json({ limit: '10mb' }), express.urlencoded({ extended: false, limit: '1mb' }));
  app.use(faults.middleware());
  app.use('/_sim', control);
  app.use(dottedSignOAuthRoutes(oauth));
  app.use(
    dottedSignApiRoutes({
      store,
      oauth,
      clock,
      downloadLinkTtlSeconds: options.downloadLinkTtlSeconds ?? 300,
      rateLimit: options.rateLimit ?? { requests: 600, windowMs: 60_000 },
      baseUrl: () => baseUrl,
      linkSecret: randomBytes(16).toString('hex'),
    }),
  );
  app.use(signingPageRoutes(store));
  app.use((req: Request, res: Response) => {
    res.status(404).json({ error_code: 404000, error_key: 'not_found', error_message: `no route for ${req.method} ${req.path}` });
  });
  app.use(answerDottedSignErrors);
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error_code: 500000, error_key: 'internal_error', error_message: error.message });
  });

  const server = await listen(app, options.port ?? 0);
  baseUrl = server.url;
  return {
    ...server,
    state: store,
    webhooks,
    log,
    clock,
    ownerAccount,
    setWebhookUrl: (url) => taskWebhooks.setUrl(url),
    close: async () => {
      webhooks.close();
      await server.close();
    },
  };
}

/** DottedSign errors (and unparsable JSON, as invalid_params) in DottedSign's error body. */
function answerDottedSignErrors(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (error instanceof DottedSignError) {
    res.status(error.status).json(error.body());
  } else if ((error as { type?: string })?.type === 'entity.parse.failed') {
    res.status(400).json(DottedSignError.invalidParams('the body is not valid JSON').body());
  } else if ((error as { type?: string })?.type === 'entity.too.large') {
    res.status(413).json({ error_code: 413001, error_key: 'payload_too_large', error_message: 'the body is too large' });
  } else {
    next(error);
  }
}
