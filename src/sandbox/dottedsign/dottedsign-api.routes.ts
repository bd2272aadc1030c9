import { createHmac, timingSafeEqual } from 'node:crypto';
import { type NextFunction, type Request, type Response, Router } from 'express';
import { renderPdf } from '../kit/pdf';
import type { SimClock } from '../kit/sim-clock';
import { DottedSignError } from './dottedsign-error';
import type { OAuthState, Scope } from './dottedsign-oauth.routes';
import { taskJson, templateJson } from './dottedsign-shapes';
import { type DottedSignStore, TASK_STATUSES, type Task, type TaskStatus } from './dottedsign-store';
import { FixedWindowLimiter } from './fixed-window-limiter';
import { validateTaskInput } from './task-input.validation';

export interface ApiDeps {
  store: DottedSignStore;
  oauth: OAuthState;
  clock: SimClock;
  downloadLinkTtlSeconds: number;
  rateLimit: { requests: number; windowMs: number };
  baseUrl(): string;
  /** Signs download links so they cannot be forged or extended. */
  linkSecret: string;
}

type AuthedRequest = Request & { account?: string; scopes?: Scope[] };

/** Which files a task has in which status (reference: "Files of a task"). */
const FILES_OF: Record<string, (status: TaskStatus) => boolean> = {
  original: () => true,
  completed: (status) => status === 'completed',
  audit_trail: (status) => ['completed', 'declined', 'voided'].includes(status),
};
const SORTABLE: Record<string, (task: Task) => string> = { updated_at: (task) => task.updatedAt, created_at: (task) => task.createdAt };

/** The `/v1` API: a rate limit, bearer auth, tasks, templates and download links, in DottedSign's envelopes. */
export function dottedSignApiRoutes(deps: ApiDeps): Router {
  const router = Router();
  const { store, clock } = deps;
  const limiter = new FixedWindowLimiter(deps.rateLimit, () => clock.now());

  router.use('/v1', (req: AuthedRequest, res: Response, next: NextFunction) => {
    if (req.path.startsWith('/oauth/')) return next();
    const retryAfterMs = limiter.take();
    if (retryAfterMs !== null) {
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      return res.status(429).json({ error_code: 429001, error_key: 'rate_limit_exceeded', error_message: 'rate limit exceeded' });
    }
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ') || header.length === 7) throw DottedSignError.missingToken();
    const grant = deps.oauth.accessTokens.get(header.slice(7));
    if (!grant || grant.expiresAt <= clock.now()) throw DottedSignError.invalidToken();
    req.account = grant.account;
    req.scopes = grant.scopes;
    next();
  });

  /**
   * Which scope each route needs. Simulator choice beyond the reference's three names: listing templates needs the
   * general read scope (the reference names no template scope among those this app needs).
   */
  const needs = (scope: Scope) => (req: AuthedRequest, _res: Response, next: NextFunction) => {
    if (!req.scopes?.includes(scope)) throw DottedSignError.insufficientScope(scope);
    next();
  };
  const read = needs('sign_tasks.general.read');
  const write = needs('sign_tasks.general.write');
  const download = needs('sign_tasks.download.read');

  const account = (req: AuthedRequest) => req.account!;
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const taskId = (value: unknown) => {
    const id = Number(value);
    if (!Number.isInteger(id) || id <= 0) throw DottedSignError.invalidParams('task_id is required');
    return id;
  };
  const paged = <T>(items: T[], req: Request) => {
    const { maxPerPage, counts } = store.listFormat;
    const page = Math.max(1, Number(req.query.page ?? 1) || 1);
    const perPage = Math.min(maxPerPage, Math.max(1, Number(req.query.per_page ?? 20) || 20));
    return {
      items: items.slice((page - 1) * perPage, page * perPage),
      pagination: counts ? { page, per_page: perPage, total: items.length, total_pages: Math.max(1, Math.ceil(items.length / perPage)) } : {},
    };
  };
  const create = (req: AuthedRequest, withFieldSettings: boolean) => {
    const task = store.createTask(account(req), validateTaskInput(body(req), { withFieldSettings }));
    return { data: { task_id: task.id } };
  };

  router.post('/v1/sign_tasks/quick_create', write, (req: AuthedRequest, res) => res.json(create(req, false)));
  router.post('/v1/sign_tasks', write, (req: AuthedRequest, res) => res.json(create(req, true)));

  router.get('/v1/sign_tasks/list', read, (req: AuthedRequest, res) => {
    const query = req.query as Record<string, string | undefined>;
    if (query.status && !TASK_STATUSES.includes(query.status as TaskStatus)) throw DottedSignError.invalidParams(`unknown status ${query.status}`);
    const sortKey = SORTABLE[query.sort_type ?? 'updated_at'];
    if (!sortKey) throw DottedSignError.invalidParams('sort_type must be updated_at or created_at');
    const direction = query.order_by === 'asc' ? 1 : -1;
    const { metadata_key: key, metadata_value: value } = query;
    const tasks = [...store.tasks.values()]
      .filter((task) => task.account === account(req) && !task.discarded)
      .filter((task) => !query.status || task.status === query.status)
      .filter((task) => !key || (key in task.metadata && (value === undefined || String(task.metadata[key]) === value)))
      .sort((a, b) => direction * (sortKey(a).localeCompare(sortKey(b)) || a.id - b.id));
    const { items, pagination } = paged(tasks.map(taskJson), req);
    res.json({ data: { tasks: items, ...pagination } });
  });

  router.get('/v1/sign_tasks/read', read, (req: AuthedRequest, res) => res.json({ data: taskJson(store.taskFor(account(req), taskId(req.query.task_id))) }));

  router.post('/v1/sign_tasks/void', write, (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId(body(req).task_id));
    const reason = body(req).reason;
    if (reason !== undefined && typeof reason !== 'string') throw DottedSignError.invalidParams('reason must be a string');
    store.void(task, reason?.trim() || null);
    res.json({ data: { task_id: task.id, status: task.status } });
  });

  router.post('/v1/sign_tasks/discard', write, (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId(body(req).task_id));
    store.discard(task);
    res.json({ data: { task_id: task.id } });
  });

  router.get('/v1/sign_tasks/download_link', download, (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId(req.query.task_id));
    const kinds = String(req.query.file_types ?? 'completed').split(',').map((kind) => kind.trim()).filter(Boolean);
    const links: Record<string, string> = {};
    for (const kind of kinds) {
      const exists = FILES_OF[kind];
      if (!exists) throw DottedSignError.invalidParams(`unknown file type ${kind}`);
      if (!exists(task.status)) throw DottedSignError.invalidAction(`a ${task.status} task has no ${kind} file`);
      const expires = clock.now() + deps.downloadLinkTtlSeconds * 1000;
      links[kind] = `${deps.baseUrl()}/files/${task.id}/${kind}?expires=${expires}&signature=${linkSignature(deps.linkSecret, task.id, kind, expires)}`;
    }
    res.json({ data: links });
  });

  router.get('/v1/sign_tasks/audit_trails', read, (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId(req.query.task_id));
    const events = task.events.map((event) => ({ action: event.action, email: event.email, ip_address: '127.0.0.1', created_at: event.at }));
    const { items, pagination } = paged(events, req);
    res.json({ data: { audit_trails: items, ...pagination } });
  });

  router.get('/v1/templates/list', read, (req: AuthedRequest, res) => {
    const { items, pagination } = paged(store.templatesOf(account(req)).map(templateJson), req);
    res.json({ data: { templates: items, ...pagination } });
  });

  router.get('/files/:taskId/:kind', (req, res) => {
    const { expires, signature } = req.query as Record<string, string | undefined>;
    const { taskId: id, kind } = req.params as Record<string, string>;
    const expected = Buffer.from(linkSignature(deps.linkSecret, Number(id), kind, Number(expires)));
    const given = Buffer.from(String(signature ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return res.status(403).json({ error_code: 403001, error_key: 'invalid_link', error_message: 'invalid download link' });
    }
    if (Number(expires) < clock.now()) return res.status(410).json({ error_code: 410001, error_key: 'link_expired', error_message: 'download link expired' });
    const task = store.tasks.get(Number(id))!;
    res.type('application/pdf').send(renderPdf(fileLines(task, kind)));
  });

  return router;
}

function linkSignature(secret: string, taskId: number, kind: string, expires: number): string {
  return createHmac('sha256', secret).update(`${taskId}:${kind}:${expires}`).digest('hex');
}

function fileLines(task: Task, kind: string): string[] {
  const signers = task.stages.flatMap((stage) => stage.signers);
  if (kind === 'audit_trail') {
    return [`Audit trail - ${task.fileName}`, `Task ${task.id}, ${task.status}`, ...task.events.map((event) => `${event.at}  ${event.action}${event.email ? `  ${event.email}` : ''}`)];
  }
  const heading = kind === 'completed' ? `Signed copy - ${task.fileName}` : task.fileName;
  return [heading, `Task ${task.id}`, 'This is a simulated contract from the DottedSign sandbox.', ...signers.map((signer) => `${signer.name} <${signer.email}>${signer.signedAt ? ` signed ${signer.signedAt}` : ''}`)];
}
