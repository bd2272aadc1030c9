import type { Request, RequestHandler, Response } from 'express';
import type { Company, User } from './pipedrive.entities';
import type { CallCost } from './platform-facts';
import type { RequiredScope } from './scopes';
import type { AccessToken } from './token-registry';

/** Who is calling: resolved from the bearer token by the API router. */
export interface ApiCaller {
  token: string;
  grant: AccessToken;
  company: Company;
  user: User;
  /** `<sim url>/c/<companyId>`: the api_domain of this company. */
  apiDomain: string;
}

export interface ApiEndpoint {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Relative to `/c/:companyId/api`, e.g. `/v2/deals/:id`. */
  path: string;
  scope: RequiredScope;
  cost: CallCost;
  /** Body parsers that run after authentication and rate limiting. */
  parsers?: RequestHandler[];
  handle(req: Request, res: Response, caller: ApiCaller): void | Promise<void>;
}

export function idParam(req: Request, name = 'id'): number {
  const value = Number(req.params[name]);
  return Number.isInteger(value) && value > 0 ? value : NaN;
}
