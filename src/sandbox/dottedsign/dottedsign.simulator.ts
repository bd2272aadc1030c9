import { createHmac, randomBytes } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { controlRouter } from '../kit/control-router';
import { FaultInjector } from '../kit/faults';
import { type RunningServer, listen } from '../kit/http-server';
import { RequestLog } from '../kit/request-log';
import { WebhookDispatcher } from '../kit/webhook-dispatcher';
import { dottedSignApiRoutes } from './dottedsign-api.routes';
import { DottedSignError } from './dottedsign-error';
import { type OAuthState, dottedSignOAuthRoutes } from './dottedsign-oauth.routes';
import { taskJson } from './dottedsign-shapes';
import { DottedSignStore, type Task, type TaskEvent } from './dottedsign-store';
import { signingPageRoutes } from './signing-page.routes';

export interface DottedSignSimulatorOptions {
  port?: number;
  clientId: string;
  clientSecret: string;
  /** The app's `POST /webhooks/dottedsign` (one URL per DottedSign application). */
  webhookUrl?: string;
  accessTokenTtlSeconds?: number;
  /** Scales webhook retry delays and timeouts (0.001: seconds become milliseconds). */
  timeScale?: number;
  rateLimit?: { requests: number; windowMs: number };
  downloadLinkTtlSeconds?: number;
  autoApprove?: boolean;
  /** The account `client_credentials` acts as (the owner of the DottedSign application). */
  ownerAccount?: string;
}

export interface DottedSignSimulator extends RunningServer {
  store: DottedSignStore;
  webhooks: WebhookDispatcher;
  log: RequestLog;
  ownerAccount: string;
  setWebhookUrl(url: string | undefined): void;
}

/** Simulator choice (DottedSign's retry policy is undocumented): retries after 10 s, 60 s and 300 s. */
const WEBHOOK_RETRY_DELAYS_MS = [10_000, 60_000, 300_000];
const WEBHOOK_TIMEOUT_MS = 10_000;

export async function startDottedSignSimulator(options: DottedSignSimulatorOptions): Promise<DottedSignSimulator> {
  const ownerAccount = options.ownerAccount ?? 'owner@sandbox.test';
  let webhookUrl = options.webhookUrl;
  let baseUrl = '';
  const log = new RequestLog();
  const faults = new FaultInjector();
  const webhooks = new WebhookDispatcher({ retryDelaysMs: WEBHOOK_RETRY_DELAYS_MS, timeoutMs: WEBHOOK_TIMEOUT_MS, timeScale: options.timeScale });

  const deliver = (task: Task, event: TaskEvent) => {
    if (!webhookUrl) return;
    const body = JSON.stringify({
      resource_id: task.id,
      resource_type: 'SignTask',
      action_name: event.action,
      event_datetime: String(Math.floor(Date.parse(event.at) / 1000)),
      event_email: event.email ?? '',
      ip_address: '127.0.0.1',
      user_agent: 'DottedSign simulator',
      task: { task_id: task.id, status: task.status, file_name: task.fileName, metadata: task.metadata },
    });
    const signature = createHmac('sha256', options.clientSecret).update(body).digest('hex');
    webhooks.send({ url: webhookUrl, body, headers: { Signature: signature }, meta: { taskId: task.id, action: event.action } });
  };

  const oauth: OAuthState = {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    ownerAccount,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    autoApprove: options.autoApprove ?? false,
    accessTokens: new Map(),
    refreshTokens: new Map(),
    codes: new Map(),
    accounts: () => [...store.accounts.keys()],
  };
  const store = new DottedSignStore(deliver);
  const seed = () => {
    store.addAccount(ownerAccount, 1000);
    store.addTemplate(ownerAccount, 'Sales contract', ['Customer']);
    store.addTemplate(ownerAccount, 'Mutual NDA', ['Customer', 'Company']);
  };
  seed();

  const app = express();
  app.disable('x-powered-by');
  app.use(log.middleware());
  app.use(faults.middleware());

  const control = controlRouter({
    log,
    faults,
    webhooks,
    reset: () => {
      store.reset();
      seed();
      oauth.accessTokens.clear();
      oauth.refreshTokens.clear();
      oauth.codes.clear();
      log.clear();
      faults.clear();
      webhooks.clear();
    },
  });
  const task = (req: Request) => {
    const found = store.tasks.get(Number(req.params.taskId));
    if (!found) throw DottedSignError.notFound('task not found');
    return found;
  };
  const email = (req: Request) => String((req.body as Record<string, unknown>)?.email ?? '');
  control.get('/tasks', (_req, res) => res.json([...store.tasks.values()].map((found) => ({ ...taskJson(found), account: found.account, discarded: found.discarded }))));
  control.get('/tasks/:taskId', (req, res) => res.json({ ...taskJson(task(req)), account: task(req).account, discarded: task(req).discarded, events: task(req).events }));
  control.post('/tasks/:taskId/view', (req, res) => {
    store.view(task(req), email(req));
    res.json(taskJson(task(req)));
  });
  control.post('/tasks/:taskId/sign', (req, res) => {
    store.sign(task(req), email(req));
    res.json(taskJson(task(req)));
  });
  control.post('/tasks/:taskId/decline', (req, res) => {
    store.decline(task(req), email(req), String((req.body as Record<string, unknown>)?.reason ?? '') || null);
    res.json(taskJson(task(req)));
  });
  control.post('/tasks/:taskId/expire', (req, res) => {
    store.expire(task(req));
    res.json(taskJson(task(req)));
  });
  control.post('/accounts', (req, res) => {
    const body = req.body as { email?: string; quota?: number };
    if (!body.email) throw DottedSignError.invalidParams('email is required');
    res.status(201).json(store.addAccount(body.email, body.quota ?? 1000));
  });
  control.patch('/accounts/:email', (req, res) => {
    const account = store.accounts.get(req.params.email);
    if (!account) throw DottedSignError.notFound('account not found');
    account.quotaRemaining = Number((req.body as { quota?: number }).quota ?? account.quotaRemaining);
    res.json(account);
  });
  control.post('/templates', (req, res) => {
    const body = req.body as { account?: string; name?: string; roles?: string[] };
    res.status(201).json(store.addTemplate(body.account ?? ownerAccount, body.name ?? 'Template', body.roles));
  });
  control.post('/tokens/expire', (_req, res) => {
    for (const grant of oauth.accessTokens.values()) grant.expiresAt = 0;
    res.json({ expired: oauth.accessTokens.size });
  });
  control.put('/webhook-url', (req, res) => {
    webhookUrl = (req.body as { url?: string }).url;
    res.json({ url: webhookUrl ?? null });
  });
  control.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof DottedSignError) return res.status(error.status).json(error.body());
    next(error);
  });
  app.use('/_sim', control);
  app.use(dottedSignOAuthRoutes(oauth));
  app.use(
    dottedSignApiRoutes({
      store,
      oauth,
      downloadLinkTtlSeconds: options.downloadLinkTtlSeconds ?? 300,
      rateLimit: options.rateLimit ?? { requests: 600, windowMs: 60_000 },
      baseUrl: () => baseUrl,
      linkSecret: randomBytes(16).toString('hex'),
    }),
  );
  app.use(signingPageRoutes(store));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof DottedSignError) return res.status(error.status).json(error.body());
    res.status(500).json({ error_code: 500000, error_key: 'internal_error', error_message: (error as Error).message });
  });

  const server = await listen(app, options.port ?? 0);
  baseUrl = server.url;
  return {
    ...server,
    store,
    webhooks,
    log,
    ownerAccount,
    setWebhookUrl: (url) => {
      webhookUrl = url;
    },
    close: async () => {
      webhooks.close();
      await server.close();
    },
  };
}
