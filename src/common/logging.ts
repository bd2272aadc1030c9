import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config';
import { WEBHOOK_ROUTES } from './webhook-routes';

/** Query parameters that carry credentials (OAuth codes, panel JWTs) never reach the logs. */
const SECRET_QUERY = /([?&](?:token|code|state|access_token|refresh_token)=)[^&]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

/** A caller's well-formed X-Request-Id is kept for tracing across systems; anything else gets a fresh one. */
export function requestId(given: string | string[] | undefined): string {
  return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
}

const HEALTH_CHECKS = new Set(['/healthz', '/readyz']);

const SECRET_KEYS = ['access_token', 'refresh_token', 'accessToken', 'refreshToken', 'password', 'http_auth_password', 'client_secret', 'token'];

/** Secrets wherever a logged object carries them: at the top of the line (a Nest call with an object) or one level down. */
export const REDACTION = {
  paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers.signature', 'res.headers["set-cookie"]', ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`])],
  censor: '[redacted]',
};

export function loggerParams(config: AppConfig): Params {
  return {
    // A delivery's record is its inbox row; a refused one is logged by HttpExceptionFilter.
    exclude: [{ path: WEBHOOK_ROUTES, method: RequestMethod.ALL }],
    pinoHttp: {
      level: config.logLevel,
      redact: REDACTION,
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // Nest's middleware runs under @fastify/middie, which strips the mount path from `url`; `originalUrl` keeps it.
      autoLogging: { ignore: (req: IncomingMessage & { originalUrl?: string }) => HEALTH_CHECKS.has(req.originalUrl ?? req.url ?? '') },
      transport: config.env === 'development' ? { target: 'pino-pretty', options: { singleLine: true } } : undefined,
    },
  };
}
