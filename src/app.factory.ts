import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { requestId } from './common/logging';
import type { AppConfig } from './config/app-config';

export interface RawBodyRequest extends Request {
  rawBody?: Buffer;
}

/** Builds the Nest app with the HTTP basics every route relies on; listening is the caller's choice. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    bodyParser: false,
    bufferLogs: true,
    forceCloseConnections: true,
  });
  app.useLogger(app.get(Logger));
  app.use((req: Request, res: Response, next: NextFunction) => {
    req.headers['x-request-id'] = requestId(req.headers['x-request-id']);
    res.setHeader('x-request-id', req.headers['x-request-id']);
    next();
  });
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.disable('x-powered-by');
  app.use(
    helmet({
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
    }),
  );
  // The raw bytes are kept for webhook signature checks.
  const keepRaw = (req: RawBodyRequest, _res: Response, buffer: Buffer) => {
    req.rawBody = buffer;
  };
  app.useBodyParser('json', { limit: config.bodyLimitBytes, verify: keepRaw, type: ['application/json', 'application/*+json'] });
  app.useBodyParser('urlencoded', { limit: config.bodyLimitBytes, extended: false, verify: keepRaw });
  // Body-parser errors happen before routing; answer them in the same JSON shape as everything else.
  const filter = new HttpExceptionFilter();
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!error) return next();
    filter.catch(error, { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as never);
  });
  return app;
}
