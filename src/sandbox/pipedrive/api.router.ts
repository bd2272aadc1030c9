import { Router } from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiCaller, ApiEndpoint } from './api-endpoint';
import { sendApiError } from './envelope';
import { API_ERRORS, CALL_COSTS } from './platform-facts';
import { PipedriveApiError } from './pipedrive-api.error';
import type { RateLimiter } from './rate-limiter';
import { scopeGranted } from './scopes';
import type { SimulatorStore } from './simulator-store';
import type { TokenRegistry } from './token-registry';

export interface ApiRouterDeps {
  store: SimulatorStore;
  tokens: TokenRegistry;
  rateLimiter: RateLimiter;
  apiDomain(companyId: number): string;
}

/**
 * The REST API of every company, mounted at `/c/:companyId/api`. Each endpoint runs behind the same chain:
 * bearer token (401) → rate limits (429; headers on every authenticated answer) → scope (403) → handler.
 */
export function apiRouter(deps: ApiRouterDeps, endpoints: ApiEndpoint[]): Router {
  const router = Router({ mergeParams: true });
  for (const endpoint of endpoints) {
    router[endpoint.method](endpoint.path, authenticate(deps), limitRate(deps, endpoint), requireScope(endpoint), ...(endpoint.parsers ?? []), run(endpoint));
  }
  router.use((_req: Request, res: Response) => sendApiError(res, PipedriveApiError.notFound('Unknown method .')));
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => sendApiError(res, asApiError(error)));
  return router;
}

function authenticate(deps: ApiRouterDeps): RequestHandler {
  return (req, res, next) => {
    const unauthorized = (info: string) => sendApiError(res, new PipedriveApiError(401, API_ERRORS.unauthorized, info));
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return unauthorized(API_ERRORS.info);
    const check = deps.tokens.checkAccess(token);
    if ('failure' in check) return unauthorized(check.failure === 'expired' ? API_ERRORS.expiredTokenInfo : API_ERRORS.info);
    const companyId = Number(req.params.companyId);
    const company = deps.store.companies.get(companyId);
    const user = deps.store.users.get(check.token.userId);
    if (!company || !user || check.token.companyId !== companyId) return unauthorized(API_ERRORS.info);
    const caller: ApiCaller = { token, grant: check.token, company, user, apiDomain: deps.apiDomain(companyId) };
    res.locals.caller = caller;
    next();
  };
}

function limitRate(deps: ApiRouterDeps, endpoint: ApiEndpoint): RequestHandler {
  return (_req, res, next) => {
    const caller = callerOf(res);
    const quota = { companyId: caller.company.id, planMultiplier: caller.company.planMultiplier, seats: deps.store.usersOf(caller.company.id).length };
    const decision = deps.rateLimiter.admit(caller.token, quota, CALL_COSTS[endpoint.cost]);
    res.set(decision.headers);
    if (decision.allowed) return next();
    sendApiError(res, new PipedriveApiError(429, decision.reason === 'burst' ? API_ERRORS.rateLimited : API_ERRORS.dailyBudgetSpent));
  };
}

function requireScope(endpoint: ApiEndpoint): RequestHandler {
  return (_req, res, next) => {
    if (scopeGranted(endpoint.scope, callerOf(res).grant.scopes)) return next();
    sendApiError(res, new PipedriveApiError(403, API_ERRORS.scopeMismatch));
  };
}

function run(endpoint: ApiEndpoint): RequestHandler {
  return async (req, res) => {
    try {
      await endpoint.handle(req, res, callerOf(res));
    } catch (error) {
      sendApiError(res, asApiError(error));
    }
  };
}

function callerOf(res: Response): ApiCaller {
  return res.locals.caller as ApiCaller;
}

/** Body-parser and multer errors carry a 4xx status; anything else is the simulator's own 500. */
function asApiError(error: unknown): PipedriveApiError {
  if (error instanceof PipedriveApiError) return error;
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new PipedriveApiError(status, (error as Error).message);
  if ((error as { name?: unknown }).name === 'MulterError') return PipedriveApiError.badRequest((error as Error).message);
  return new PipedriveApiError(500, error instanceof Error ? error.message : 'Internal server error');
}
