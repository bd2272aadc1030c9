import type { ArgumentsHost } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import type { IncomingMessage } from 'node:http';
import { AppModule } from './app.module';
import { registerBodyParsers } from './common/body-parsers';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { requestId } from './common/logging';
import { isWebhookUrl } from './common/webhook-routes';
import type { AppConfig } from './config/app-config';

/** Builds the Nest app with the HTTP basics every route relies on; listening is the caller's choice. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    trustProxy: 'loopback, linklocal, uniquelocal',
    // Also the id of the request's log lines: pino-http takes the id Fastify gave the request.
    genReqId: (request: IncomingMessage) => requestId(request.headers['x-request-id']),
    forceCloseConnections: true,
    // Node's default, as under Express: with Fastify's 72 s, webhook senders reusing idle connections met resets
    // and stalls under load (chaos drill; see docs/decisions.md).
    keepAliveTimeout: 5000,
    // A malformed URL is refused before routing and hooks; answer it in the same JSON shape as everything else.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      echoRequestId(request, reply);
      new HttpExceptionFilter().catch(error, hostOf(request, reply));
    },
  });
  // helmet's middleware, built once: the Fastify plugin rebuilds it, CSP parsing included, on every request.
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      directives: {
        'frame-ancestors': ["'self'", ...config.panelFrameAncestors],
        'script-src': ["'self'"],
        'connect-src': ["'self'"],
        // The sandbox serves plain http on localhost; TLS is the reverse proxy's job in production.
        'upgrade-insecure-requests': null,
      },
    },
    // X-Frame-Options cannot express "Pipedrive may frame us"; frame-ancestors above does.
    frameguard: false,
    crossOriginEmbedderPolicy: false,
  });
  const fastify = adapter.getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    echoRequestId(request, reply);
    if (isWebhookUrl(request.url)) return done();
    securityHeaders(request.raw, reply.raw, (error?: unknown) => done(error as Error | undefined));
  });
  registerBodyParsers(fastify, config.bodyLimitBytes);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config), adapter, { bodyParser: false, bufferLogs: true });
  app.useLogger(app.get(Logger));
  return app;
}

/** Set on the Node response, as helmet's headers are, so answers that bypass the reply (passport's redirect) carry it. */
function echoRequestId(request: FastifyRequest, reply: FastifyReply): void {
  reply.raw.setHeader('x-request-id', request.id);
}

function hostOf(request: FastifyRequest, reply: FastifyReply): ArgumentsHost {
  return { switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }) } as ArgumentsHost;
}
