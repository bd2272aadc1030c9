import { type CanActivate, type ExecutionContext, Inject, Injectable, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { type KeyObject, createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ApiError } from '../common/api-error';
import { type AppConfig, CONFIG } from '../config/app-config';

/** Who is calling, as Pipedrive's signed panel JWT says; nothing else is trusted for identity. */
export interface PanelUser {
  companyId: string;
  userId: string;
}

type PanelRequest = FastifyRequest & { panelUser?: PanelUser };

/**
 * Given a string, jsonwebtoken builds a key object on every call (trying it as a public key first, which
 * throws): a measurable share of each panel request. The key is built once per secret instead.
 */
let secretKey: { secret: string; key: KeyObject } | null = null;
function keyOf(secret: string): KeyObject {
  if (secretKey?.secret !== secret) secretKey = { secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  return secretKey.key;
}

/** Verifies a Pipedrive extension JWT: HS256 only, our secret, an expiry that has not passed, numeric ids. */
export function verifyPanelToken(token: string, secret: string): PanelUser | null {
  try {
    const claims = jwt.verify(token, keyOf(secret), { algorithms: ['HS256'] });
    // Pipedrive's tokens always expire; one that never does is not Pipedrive's.
    if (typeof claims !== 'object' || claims === null || typeof claims.exp !== 'number') return null;
    const companyId = Number((claims as Record<string, unknown>).companyId);
    const userId = Number((claims as Record<string, unknown>).userId);
    if (!Number.isSafeInteger(companyId) || companyId <= 0 || !Number.isSafeInteger(userId) || userId <= 0) return null;
    return { companyId: String(companyId), userId: String(userId) };
  } catch {
    return null;
  }
}

@Injectable()
export class PanelAuthGuard implements CanActivate {
  constructor(@Inject(CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<PanelRequest>();
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const user = token ? verifyPanelToken(token, this.config.pipedrive.jwtSecret) : null;
    if (!user) throw ApiError.unauthorized('A valid panel token is required (Authorization: Bearer <JWT>)');
    request.panelUser = user;
    return true;
  }
}

export const CurrentPanelUser = createParamDecorator((_: unknown, context: ExecutionContext): PanelUser => {
  const user = context.switchToHttp().getRequest<PanelRequest>().panelUser;
  if (!user) throw ApiError.unauthorized();
  return user;
});
