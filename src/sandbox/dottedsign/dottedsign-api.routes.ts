import { createHmac } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { renderPdf } from '../kit/pdf';
import { DottedSignError } from './dottedsign-error';
import type { OAuthState } from './dottedsign-oauth.routes';
import { taskJson, templateJson } from './dottedsign-shapes';
import type { DottedSignStore, Task, TaskStatus } from './dottedsign-store';

export interface ApiDeps {
  store: DottedSignStore;
  oauth: OAuthState;
  downloadLinkTtlSeconds: number;
  rateLimit: { requests: number; windowMs: number };
  baseUrl(): string;
  /** Signs download links so they cannot be forged or extended. */
  linkSecret: string;
}

type AuthedRequest = Request & { account?: string };

const FILE_NAME = /^(?!.*["*:<>?/\\|~#%&{}])[^.].*$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const FILES_OF: Record<string, (status: TaskStatus) => boolean> = {
  completed: (status) => status === 'completed',
  audit_trail: (status) => ['completed', 'declined', 'voided'].includes(status),
};

/** The `/v1` API: bearer auth, a rate limit, tasks, templates and download links, in DottedSign's envelopes. */
export function dottedSignApiRoutes(deps: ApiDeps): Router {
  const router = Router();
  const { store } = deps;
  let window = { started: Date.now(), count: 0 };

  router.use('/v1', (req: AuthedRequest, res: Response, next: NextFunction) => {
    if (req.path.startsWith('/oauth/')) return next();
    const now = Date.now();
    if (now - window.started >= deps.rateLimit.windowMs) window = { started: now, count: 0 };
    window.count += 1;
    if (window.count > deps.rateLimit.requests) {
      res.setHeader('Retry-After', String(Math.ceil((window.started + deps.rateLimit.windowMs - now) / 1000)));
      return res.status(429).json({ error_code: 429001, error_key: 'rate_limit_exceeded', error_message: 'rate limit exceeded' });
    }
    const header = req.headers.authorization ?? '';
    const grant = header.startsWith('Bearer ') ? deps.oauth.accessTokens.get(header.slice(7)) : undefined;
    if (!grant || grant.expiresAt < now) throw DottedSignError.invalidToken();
    req.account = grant.account;
    next();
  });
  router.use('/v1', express.json({ limit: '10mb' }));

  const account = (req: AuthedRequest) => req.account!;
  const taskId = (value: unknown) => {
    const id = Number(value);
    if (!Number.isInteger(id) || id <= 0) throw DottedSignError.invalidParams('task_id is required');
    return id;
  };
  const page = (req: Request) => ({
    page: Math.max(1, Number(req.query.page ?? 1) || 1),
    perPage: Math.min(100, Math.max(1, Number(req.query.per_page ?? 20) || 20)),
  });
  const paged = <T>(items: T[], req: Request) => {
    const { page: current, perPage } = page(req);
    return { items: items.slice((current - 1) * perPage, current * perPage), page: current, per_page: perPage, total: items.length, total_pages: Math.max(1, Math.ceil(items.length / perPage)) };
  };

  const createTask = (req: AuthedRequest, quick: boolean): Task => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const fileName = body.file_name;
    if (typeof fileName !== 'string' || !fileName || fileName.length > 255 || !FILE_NAME.test(fileName)) throw DottedSignError.invalidParams('file_name is invalid');
    const templateId = Number(body.template_id);
    if (!Number.isInteger(templateId) || templateId <= 0) throw DottedSignError.invalidParams('template_id is required');
    const stages = body.stages;
    if (!Array.isArray(stages) || !stages.length) throw DottedSignError.invalidParams('stages must not be empty');
    const signers = stages.map((stage: Record<string, unknown>) => {
      const email = stage.email ?? (stage.signers as Array<Record<string, unknown>> | undefined)?.[0]?.email;
      const name = stage.name ?? (stage.signers as Array<Record<string, unknown>> | undefined)?.[0]?.name;
      if (typeof email !== 'string' || !EMAIL.test(email) || typeof name !== 'string' || !name.trim()) throw DottedSignError.invalidParams('each stage needs a name and a valid email');
      if (!quick && !Array.isArray(stage.field_settings)) throw DottedSignError.invalidParams('stages[].field_settings is required');
      return { name, email };
    });
    const metadata = (body.metadata ?? {}) as Record<string, unknown>;
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw DottedSignError.invalidParams('metadata must be an object');
    const entries = Object.entries(metadata);
    if (entries.length > 10) throw DottedSignError.invalidParams('metadata allows at most 10 pairs');
    for (const [key, value] of entries) {
      if (key.length > 40 || String(value).length > 100) throw DottedSignError.invalidParams('metadata keys are at most 40 characters, values at most 100');
    }
    return store.createTask(account(req), {
      fileName,
      templateId,
      signers,
      ordered: body.ordered === true,
      start: body.start === true,
      metadata: Object.fromEntries(entries.map(([key, value]) => [key, String(value)])),
    });
  };

  router.post('/v1/sign_tasks/quick_create', (req: AuthedRequest, res) => res.json({ data: { task_id: createTask(req, true).id } }));
  router.post('/v1/sign_tasks', (req: AuthedRequest, res) => res.json({ data: { task_id: createTask(req, false).id } }));

  router.get('/v1/sign_tasks/list', (req: AuthedRequest, res) => {
    const { status, metadata_key: key, metadata_value: value, order_by: order } = req.query as Record<string, string | undefined>;
    let tasks = [...store.tasks.values()].filter((task) => task.account === account(req) && !task.discarded);
    if (status) tasks = tasks.filter((task) => task.status === status);
    if (key) tasks = tasks.filter((task) => task.metadata[key] === value);
    tasks.sort((a, b) => (order === 'asc' ? 1 : -1) * a.updatedAt.localeCompare(b.updatedAt));
    const result = paged(tasks.map(taskJson), req);
    res.json({ data: { tasks: result.items, page: result.page, per_page: result.per_page, total: result.total, total_pages: result.total_pages } });
  });

  router.get('/v1/sign_tasks/read', (req: AuthedRequest, res) => res.json({ data: taskJson(store.taskFor(account(req), taskId(req.query.task_id))) }));

  router.post('/v1/sign_tasks/void', (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId((req.body as Record<string, unknown>)?.task_id));
    store.void(task);
    res.json({ data: { task_id: task.id, status: task.status } });
  });

  router.post('/v1/sign_tasks/discard', (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId((req.body as Record<string, unknown>)?.task_id));
    store.discard(task);
    res.json({ data: { task_id: task.id } });
  });

  router.get('/v1/sign_tasks/download_link', (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId(req.query.task_id));
    const kinds = String(req.query.file_types ?? 'completed').split(',').map((kind) => kind.trim()).filter(Boolean);
    const links: Record<string, string> = {};
    for (const kind of kinds) {
      if (!FILES_OF[kind]?.(task.status)) throw DottedSignError.invalidAction(`no ${kind} file for a ${task.status} task`);
      const expires = Date.now() + deps.downloadLinkTtlSeconds * 1000;
      const signature = createHmac('sha256', deps.linkSecret).update(`${task.id}:${kind}:${expires}`).digest('hex');
      links[kind] = `${deps.baseUrl()}/files/${task.id}/${kind}?expires=${expires}&signature=${signature}`;
    }
    res.json({ data: links });
  });

  router.get('/v1/sign_tasks/audit_trails', (req: AuthedRequest, res) => {
    const task = store.taskFor(account(req), taskId(req.query.task_id));
    const result = paged(task.events.map((event) => ({ action: event.action, email: event.email, created_at: event.at })), req);
    res.json({ data: { audit_trails: result.items, page: result.page, per_page: result.per_page, total: result.total, total_pages: result.total_pages } });
  });

  router.get('/v1/templates/list', (req: AuthedRequest, res) => {
    const result = paged(store.templatesOf(account(req)).map(templateJson), req);
    res.json({ data: { templates: result.items, page: result.page, per_page: result.per_page, total: result.total, total_pages: result.total_pages } });
  });

  router.get('/files/:taskId/:kind', (req, res) => {
    const { expires, signature } = req.query as Record<string, string>;
    const expected = createHmac('sha256', deps.linkSecret).update(`${req.params.taskId}:${req.params.kind}:${expires}`).digest('hex');
    if (signature !== expected) return res.status(403).json({ error_code: 403001, error_key: 'invalid_link', error_message: 'invalid link' });
    if (Number(expires) < Date.now()) return res.status(410).json({ error_code: 410001, error_key: 'link_expired', error_message: 'link expired' });
    const task = store.tasks.get(Number(req.params.taskId));
    if (!task) return res.status(404).end();
    const heading = req.params.kind === 'completed' ? `Signed copy of ${task.fileName}` : `Audit trail of ${task.fileName}`;
    const lines = [heading, `Task ${task.id} - ${task.status}`, ...task.events.map((event) => `${event.at} ${event.action}${event.email ? ` by ${event.email}` : ''}`)];
    res.type('application/pdf').send(renderPdf(lines));
  });

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof DottedSignError) return res.status(error.status).json(error.body());
    if ((error as { type?: string })?.type === 'entity.parse.failed') return res.status(400).json(DottedSignError.invalidParams('invalid JSON').body());
    next(error);
  });
  return router;
}
