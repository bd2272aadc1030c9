import type { Request, Router } from 'express';
import { DottedSignError } from './dottedsign-error';
import type { OAuthState } from './dottedsign-oauth.routes';
import { taskJson } from './dottedsign-shapes';
import type { DottedSignStore, Task } from './dottedsign-store';
import type { TaskWebhooks, WebhookFormat } from './task-webhooks';

export interface ControlDeps {
  store: DottedSignStore;
  oauth: OAuthState;
  taskWebhooks: TaskWebhooks;
}

/** DottedSign's own `/_sim` routes, added to the kit's shared control router: signers, accounts, tokens. */
export function addDottedSignControlRoutes(router: Router, { store, oauth, taskWebhooks }: ControlDeps): void {
  const body = (req: Request) => (req.body ?? {}) as Record<string, unknown>;
  const task = (req: Request): Task => {
    const found = store.tasks.get(Number(req.params.taskId));
    if (!found) throw DottedSignError.notFound('task not found');
    return found;
  };
  const email = (req: Request) => {
    const value = body(req).email;
    if (typeof value !== 'string' || !value) throw DottedSignError.invalidParams('email is required');
    return value;
  };
  const simTask = (found: Task) => ({ ...taskJson(found), account: found.account, discarded: found.discarded, events: found.events });

  router.get('/tasks', (_req, res) => res.json([...store.tasks.values()].map(simTask)));
  router.get('/tasks/:taskId', (req, res) => res.json(simTask(task(req))));
  router.post('/tasks/:taskId/view', (req, res) => {
    store.view(task(req), email(req));
    res.json(simTask(task(req)));
  });
  router.post('/tasks/:taskId/sign', (req, res) => {
    store.sign(task(req), email(req));
    res.json(simTask(task(req)));
  });
  router.post('/tasks/:taskId/decline', (req, res) => {
    const reason = body(req).reason;
    store.decline(task(req), email(req), typeof reason === 'string' && reason.trim() ? reason.trim() : null);
    res.json(simTask(task(req)));
  });
  router.post('/tasks/:taskId/expire', (req, res) => {
    store.expire(task(req));
    res.json(simTask(task(req)));
  });
  // The account's owner deletes the task in DottedSign's web app: a waiting task is voided first (its webhook sent).
  router.post('/tasks/:taskId/delete', (req, res) => {
    const found = task(req);
    if (found.status === 'waiting') store.void(found, null);
    store.discard(found);
    res.json(simTask(found));
  });
  router.post('/tasks/:taskId/events', (req, res) => {
    const { action_name: action, email: actor } = body(req);
    if (typeof action !== 'string' || !/^[a-z_]{1,40}$/.test(action)) throw DottedSignError.invalidParams('action_name must be 1–40 lower-case letters or underscores');
    if (actor !== undefined && (typeof actor !== 'string' || !actor)) throw DottedSignError.invalidParams('email must be a non-empty string');
    store.announce(task(req), action, (actor as string | undefined) ?? task(req).account);
    res.json(simTask(task(req)));
  });

  router.get('/accounts', (_req, res) => res.json([...store.accounts.values()]));
  router.post('/accounts', (req, res) => {
    const { quota } = body(req);
    if (quota !== undefined && (!Number.isInteger(quota) || (quota as number) < 0)) throw DottedSignError.invalidParams('quota must be a non-negative integer');
    res.status(201).json(store.addAccount(email(req), quota as number | undefined));
  });
  router.patch('/accounts/:email', (req, res) => {
    const account = store.accounts.get(String(req.params.email));
    if (!account) throw DottedSignError.notFound('account not found');
    const { quota } = body(req);
    if (!Number.isInteger(quota) || (quota as number) < 0) throw DottedSignError.invalidParams('quota must be a non-negative integer');
    account.quotaRemaining = quota as number;
    res.json(account);
  });
  router.post('/templates', (req, res) => {
    const { account, name, roles } = body(req);
    if (typeof name !== 'string' || !name.trim()) throw DottedSignError.invalidParams('name is required');
    if (roles !== undefined && (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string'))) throw DottedSignError.invalidParams('roles must be a list of names');
    res.status(201).json(store.addTemplate(typeof account === 'string' && account ? account : oauth.ownerAccount, name.trim(), roles as string[] | undefined));
  });

  router.post('/tokens/expire', (_req, res) => {
    for (const grant of oauth.accessTokens.values()) grant.expiresAt = 0;
    res.json({ expired: oauth.accessTokens.size });
  });

  router.get('/list-format', (_req, res) => res.json(store.listFormat));
  router.put('/list-format', (req, res) => {
    const { maxPerPage, counts } = body(req);
    if (maxPerPage !== undefined && (!Number.isInteger(maxPerPage) || (maxPerPage as number) < 1)) throw DottedSignError.invalidParams('maxPerPage must be a positive integer');
    if (counts !== undefined && typeof counts !== 'boolean') throw DottedSignError.invalidParams('counts must be true or false');
    store.listFormat = { ...store.listFormat, ...(maxPerPage !== undefined ? { maxPerPage: maxPerPage as number } : {}), ...(counts !== undefined ? { counts } : {}) };
    res.json(store.listFormat);
  });

  router.get('/webhook-format', (_req, res) => res.json(taskWebhooks.format));
  router.put('/webhook-format', (req, res) => {
    const { signature, resourceType } = body(req);
    if (signature !== undefined && signature !== 'hex' && signature !== 'base64') throw DottedSignError.invalidParams('signature must be "hex" or "base64"');
    if (resourceType !== undefined && resourceType !== 'SignTask' && resourceType !== 'task') throw DottedSignError.invalidParams('resourceType must be "SignTask" or "task"');
    taskWebhooks.setFormat({ ...taskWebhooks.format, ...(signature ? { signature } : {}), ...(resourceType ? { resourceType } : {}) } as WebhookFormat);
    res.json(taskWebhooks.format);
  });
  router.get('/webhook-url', (_req, res) => res.json({ url: taskWebhooks.webhookUrl ?? null }));
  router.put('/webhook-url', (req, res) => {
    const { url } = body(req);
    if (url !== null && (typeof url !== 'string' || !URL.canParse(url))) throw DottedSignError.invalidParams('url must be an absolute URL or null');
    taskWebhooks.setUrl((url as string | null) ?? undefined);
    res.json({ url: taskWebhooks.webhookUrl ?? null });
  });
}
