import { createHash } from 'node:crypto';
import express, { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import { dealV2, noteV1, personV2, userV1, webhookV1 } from './api-shapes';
import type { AppRegistration } from './app-registration';
import type { Actor, DealInput, DealRecords } from './deal-records';
import type { DemoCompany } from './demo-seed';
import { addCompany, addPipeline, addUser } from './demo-seed';
import type { PersonInput, PersonRecords } from './person-records';
import type { Company, DealStatus } from './pipedrive.entities';
import { PipedriveApiError } from './pipedrive-api.error';
import type { RateLimiter } from './rate-limiter';
import type { SimulatorStore, WebhookAccess } from './simulator-store';
import type { TokenRegistry } from './token-registry';
import type { UninstallNotice } from './uninstall-notifier';
import type { LostEvent } from './webhook-publisher';
import { rfc3339 } from './timestamps';

export interface ControlRoutesDeps {
  app: AppRegistration;
  store: SimulatorStore;
  tokens: TokenRegistry;
  deals: DealRecords;
  persons: PersonRecords;
  rateLimiter: RateLimiter;
  demo(): DemoCompany;
  apiDomain(companyId: number): string;
  lostEvents(): LostEvent[];
  uninstall(companyId: number, userId: number): Promise<{ webhooksDeleted: number; notice: UninstallNotice }>;
}

/** Pipedrive-specific `/_sim` routes: what a person would do in the Pipedrive UI, and knobs for tests. */
export function pipedriveControlRoutes(deps: ControlRoutesDeps): Router {
  const router = Router();
  const { store } = deps;
  router.use(express.json());

  const company = (req: Request): Company => {
    const found = store.companies.get(Number(req.params.companyId));
    if (!found) throw PipedriveApiError.notFound('Company not found');
    return found;
  };
  const actor = (req: Request, companyId: number): Actor => {
    const requested = Number(body(req).user_id);
    const user = store.users.get(requested) ?? store.usersOf(companyId).find((candidate) => candidate.isAdmin) ?? store.usersOf(companyId)[0];
    if (!user || user.companyId !== companyId) throw PipedriveApiError.badRequest('No user to act as');
    return { userId: user.id, changeSource: 'app' };
  };
  const describeCompany = (found: Company) => ({
    ...found,
    api_domain: deps.apiDomain(found.id),
    users: store.usersOf(found.id).map((user) => userV1(user, found)),
  });

  router.get('/demo', (_req, res) => res.json(deps.demo()));

  router.get('/app', (_req, res) => res.json(publicApp(deps.app)));
  router.patch('/app', (req, res) => {
    const input = body(req);
    if (typeof input.autoApprove === 'boolean') deps.app.autoApprove = input.autoApprove;
    if (Array.isArray(input.scopes)) deps.app.scopes = input.scopes.map(String);
    if (typeof input.callbackUrl === 'string') deps.app.callbackUrl = input.callbackUrl;
    // Developer Hub's "regenerate client secret": the old one is refused from then on.
    if (typeof input.clientSecret === 'string' && input.clientSecret) deps.app.clientSecret = input.clientSecret;
    res.json(publicApp(deps.app));
  });

  router.get('/companies', (_req, res) => res.json([...store.companies.values()].map(describeCompany)));
  router.post('/companies', (req, res) => {
    const input = body(req);
    const name = String(input.name ?? 'New company');
    const created = addCompany(store, { name, domain: String(input.domain ?? name.toLowerCase().replace(/[^a-z0-9]+/g, '-')), planMultiplier: Number(input.planMultiplier ?? 1) });
    const stages = Array.isArray(input.stages) ? input.stages.map(String) : ['Qualified', 'Proposal made', 'Negotiations started'];
    addPipeline(store, created.id, 'Pipeline', stages);
    res.status(201).json(describeCompany(created));
  });
  router.get('/companies/:companyId', (req, res) => res.json(describeCompany(company(req))));
  router.post('/companies/:companyId/users', (req, res) => {
    const found = company(req);
    const input = body(req);
    const user = addUser(store, found.id, { name: String(input.name ?? 'New user'), email: String(input.email ?? `user${store.users.size + 1}@${found.domain}.test`), isAdmin: input.isAdmin === true });
    res.status(201).json(userV1(user, found));
  });
  // The token answer of an install this user approved, without the OAuth round trip (load fixtures).
  router.post('/companies/:companyId/users/:userId/grant', (req, res) => {
    const found = company(req);
    const user = store.users.get(Number(req.params.userId));
    if (!user || user.companyId !== found.id) throw PipedriveApiError.notFound('User not found');
    const grant = deps.tokens.grantInstalled({ clientId: deps.app.clientId, companyId: found.id, userId: user.id, scopes: [...deps.app.scopes] });
    res.status(201).json({
      access_token: grant.accessToken,
      refresh_token: grant.refreshToken,
      scope: grant.installation.scopes.join(','),
      expires_in: grant.expiresInSeconds,
      api_domain: deps.apiDomain(found.id),
    });
  });
  // An admin of the company changes a user's role in Pipedrive's settings.
  router.patch('/companies/:companyId/users/:userId', (req, res) => {
    const found = company(req);
    const user = store.users.get(Number(req.params.userId));
    if (!user || user.companyId !== found.id) throw PipedriveApiError.notFound('User not found');
    const input = body(req);
    if (typeof input.isAdmin === 'boolean') user.isAdmin = input.isAdmin;
    res.json(userV1(user, found));
  });
  router.get('/companies/:companyId/pipelines', (req, res) => res.json(store.pipelinesOf(company(req).id)));

  router.get('/companies/:companyId/deals', (req, res) => res.json(store.dealsOf(company(req).id).map(dealV2)));
  // An array of deals creates each, in order (load fixtures).
  router.post('/companies/:companyId/deals', (req, res) => {
    const companyId = company(req).id;
    const create = (input: Record<string, unknown>) => dealV2(deps.deals.create(companyId, dealInput(input), actor(req, companyId)));
    res.status(201).json(Array.isArray(req.body) ? (req.body as Array<Record<string, unknown>>).map(create) : create(body(req)));
  });
  router.get('/companies/:companyId/deals/:id', (req, res) => {
    const deal = store.deals.get(Number(req.params.id));
    if (!deal || deal.companyId !== company(req).id) throw PipedriveApiError.notFound('Deal not found');
    res.json(dealV2(deal));
  });
  router.patch('/companies/:companyId/deals/:id', (req, res) => {
    const companyId = company(req).id;
    res.json(dealV2(deps.deals.update(companyId, Number(req.params.id), dealInput(body(req)), actor(req, companyId))));
  });
  router.post('/companies/:companyId/deals/:id/archive', (req, res) => {
    const companyId = company(req).id;
    res.json(dealV2(deps.deals.setArchived(companyId, Number(req.params.id), body(req).archived !== false, actor(req, companyId))));
  });
  router.post('/companies/:companyId/deals/:id/restore', (req, res) => {
    const companyId = company(req).id;
    res.json(dealV2(deps.deals.restore(companyId, Number(req.params.id), actor(req, companyId))));
  });
  /** Body `{ mergeWithId }`: the deal is merged into that one (as a user does in Pipedrive's UI). */
  router.post('/companies/:companyId/deals/:id/merge', (req, res) => {
    const companyId = company(req).id;
    const mergeWithId = Number(body(req).mergeWithId);
    res.json(dealV2(deps.deals.merge(companyId, Number(req.params.id), mergeWithId, actor(req, companyId))));
  });
  router.delete('/companies/:companyId/deals/:id', (req, res) => {
    const companyId = company(req).id;
    res.json(dealV2(deps.deals.delete(companyId, Number(req.params.id), actor(req, companyId))));
  });

  router.get('/companies/:companyId/persons', (req, res) => res.json(store.personsOf(company(req).id).map(personV2)));
  router.post('/companies/:companyId/persons', (req, res) => {
    const companyId = company(req).id;
    res.status(201).json(personV2(deps.persons.create(companyId, personInput(body(req)), actor(req, companyId))));
  });
  router.patch('/companies/:companyId/persons/:id', (req, res) => {
    const companyId = company(req).id;
    res.json(personV2(deps.persons.update(companyId, Number(req.params.id), personInput(body(req)), actor(req, companyId))));
  });
  router.delete('/companies/:companyId/persons/:id', (req, res) => {
    const companyId = company(req).id;
    res.json(personV2(deps.persons.delete(companyId, Number(req.params.id), actor(req, companyId))));
  });

  router.get('/companies/:companyId/files', (req, res) => {
    res.json(
      store.filesOf(company(req).id).map((file) => ({
        id: file.id,
        deal_id: file.dealId,
        user_id: file.userId,
        file_name: file.fileName,
        mime_type: file.mimeType,
        file_size: file.fileSize,
        sha256: createHash('sha256').update(file.content).digest('hex'),
        add_time: rfc3339(file.addTime),
      })),
    );
  });
  // Files a user attached to a deal by hand: `{ dealId, names: [...] }`, each a one-line text file.
  router.post('/companies/:companyId/files', (req, res) => {
    const companyId = company(req).id;
    const { dealId, names } = body(req) as { dealId?: unknown; names?: unknown };
    const deal = store.deals.get(Number(dealId));
    if (!deal || deal.companyId !== companyId) throw PipedriveApiError.notFound('Deal not found');
    if (!Array.isArray(names) || !names.every((name) => typeof name === 'string' && name !== '')) throw PipedriveApiError.badRequest('names: a list of file names');
    const userId = [...store.users.values()].find((user) => user.companyId === companyId)?.id ?? 0;
    const added = (names as string[]).map((fileName) => {
      const content = Buffer.from(`${fileName}\n`);
      const file = { id: store.nextId('file'), companyId, dealId: deal.id, userId, fileName, mimeType: 'text/plain', fileSize: content.length, content, addTime: new Date() };
      store.files.set(file.id, file);
      return file.id;
    });
    res.status(201).json({ ids: added });
  });
  router.get('/companies/:companyId/files/:id/content', (req, res) => {
    const file = store.files.get(Number(req.params.id));
    if (!file || file.companyId !== company(req).id) throw PipedriveApiError.notFound('File not found');
    res.type(file.mimeType).send(file.content);
  });
  router.get('/companies/:companyId/notes', (req, res) => {
    res.json(store.notesOf(company(req).id).map((note) => noteV1(note, store.deals.get(note.dealId), store.users.get(note.userId))));
  });
  router.get('/companies/:companyId/webhooks', (req, res) => {
    res.json(
      store.webhooksOf(company(req).id).map((webhook) => ({
        ...webhookV1(webhook),
        first_attempt_failures: webhook.firstAttemptFailures,
        banned_until: rfc3339(webhook.bannedUntil),
        failing_since: rfc3339(webhook.failingSince),
      })),
    );
  });
  router.get('/webhooks/lost', (_req, res) => res.json(deps.lostEvents()));
  router.put('/webhook-access', (req, res) => {
    const { list, delete: remove } = body(req);
    const scopes = ['company', 'own'];
    if (!scopes.includes(list as string) || !scopes.includes(remove as string)) return res.status(400).json({ error: 'list and delete must each be "company" or "own"' });
    store.webhookAccess = { list: list as WebhookAccess['list'], delete: remove as WebhookAccess['delete'] };
    res.json(store.webhookAccess);
  });

  router.get('/installations', (_req, res) => res.json(deps.tokens.installations()));
  router.post('/tokens/expire', (req, res) => {
    const input = body(req);
    const expired = deps.tokens.expireAccessTokens({ companyId: optionalNumber(input.companyId), userId: optionalNumber(input.userId) });
    res.json({ expired });
  });
  router.post('/uninstall', async (req, res) => {
    const input = body(req);
    const companyId = Number(input.companyId);
    const userId = Number(input.userId);
    if (!store.companies.has(companyId) || store.users.get(userId)?.companyId !== companyId) throw PipedriveApiError.badRequest('companyId and userId must name a user of that company');
    res.json(await deps.uninstall(companyId, userId));
  });

  router.get('/rate-limits/:companyId', (req, res) => res.json(deps.rateLimiter.budgetStatus(quotaOf(store, company(req)))));
  router.put('/rate-limits/:companyId', (req, res) => {
    const remaining = Number(body(req).remaining);
    if (!Number.isFinite(remaining) || remaining < 0) throw PipedriveApiError.badRequest('remaining must be a number ≥ 0');
    res.json(deps.rateLimiter.setRemainingBudget(quotaOf(store, company(req)), remaining));
  });
  router.post('/rate-limits/reset', (req, res) => {
    deps.rateLimiter.reset(optionalNumber(body(req).companyId));
    res.json({ reset: true });
  });

  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = error instanceof PipedriveApiError ? error.status : 500;
    res.status(status).json({ error: error instanceof Error ? error.message : String(error) });
  });
  return router;
}

function body(req: Request): Record<string, unknown> {
  return typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
}

function optionalNumber(value: unknown): number | undefined {
  return value === undefined || value === null ? undefined : Number(value);
}

function quotaOf(store: SimulatorStore, company: Company) {
  return { companyId: company.id, planMultiplier: company.planMultiplier, seats: store.usersOf(company.id).length };
}

function publicApp(app: AppRegistration) {
  return { clientId: app.clientId, callbackUrl: app.callbackUrl ?? null, scopes: app.scopes, autoApprove: app.autoApprove };
}

function dealInput(input: Record<string, unknown>): DealInput {
  return {
    title: input.title === undefined ? undefined : String(input.title),
    ownerId: optionalNumber(input.owner_id),
    personId: input.person_id === null ? null : optionalNumber(input.person_id),
    orgId: input.org_id === null ? null : optionalNumber(input.org_id),
    stageId: optionalNumber(input.stage_id),
    value: optionalNumber(input.value),
    currency: input.currency === undefined ? undefined : String(input.currency),
    status: input.status as DealStatus | undefined,
    customFields: typeof input.custom_fields === 'object' && input.custom_fields !== null ? (input.custom_fields as Record<string, unknown>) : undefined,
    visibleTo: input.visible_to === 1 || input.visible_to === 3 ? input.visible_to : undefined,
  };
}

function personInput(input: Record<string, unknown>): PersonInput {
  return {
    name: input.name === undefined ? undefined : String(input.name),
    ownerId: optionalNumber(input.owner_id),
    orgId: input.org_id === null ? null : optionalNumber(input.org_id),
    emails: Array.isArray(input.emails) ? input.emails : undefined,
    phones: Array.isArray(input.phones) ? input.phones : undefined,
  };
}
