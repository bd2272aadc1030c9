import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isWebhookUrl } from './webhook-routes';

const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
};

/** Fastify's own request errors (a URL it cannot decode, a route parameter over its length limit…). */
interface FastifyRequestError {
  code?: string;
  statusCode?: number;
  message?: string;
}

/**
 * Every error leaves as `{"error": {"code", "message"}}` with a 4xx for the client's mistakes;
 * anything unexpected is logged and answered with a bare 500 (never a stack trace).
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    if (reply.sent) return;
    const { status, body } = this.describe(exception, request);
    if (status >= 500) {
      this.logger.error(
        `${request.method} ${pathOf(request)} failed: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
      );
    } else if (isWebhookUrl(request.url)) {
      // Webhook routes are left out of the request log; a refused delivery (bad credentials, a forged signature, a
      // malformed body) is worth a line: an attack, or a webhook whose settings went wrong.
      const reason = (body as { error?: { message?: string } }).error?.message;
      this.logger.warn({ req: { id: request.id, method: request.method, url: pathOf(request) }, res: { statusCode: status } }, `webhook refused: ${reason}`);
    }
    reply.code(status).send(body);
  }

  private describe(exception: unknown, request: FastifyRequest): { status: number; body: unknown } {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const payload = exception.getResponse();
      if (typeof payload === 'object' && payload !== null && 'error' in payload && typeof payload.error === 'object') {
        return { status, body: payload };
      }
      const message =
        status === HttpStatus.NOT_FOUND
          ? `No route for ${request.method} ${pathOf(request)}`
          : typeof payload === 'string'
            ? payload
            : String((payload as { message?: unknown }).message ?? exception.message);
      return { status, body: { error: { code: CODES[status] ?? 'error', message } } };
    }
    const requestError = exception as FastifyRequestError;
    const requestStatus = requestError?.statusCode;
    if (requestError?.code?.startsWith('FST_') && requestStatus && requestStatus >= 400 && requestStatus < 500) {
      return { status: requestStatus, body: { error: { code: CODES[requestStatus] ?? 'bad_request', message: requestError.message ?? 'Bad request' } } };
    }
    return { status: 500, body: { error: { code: 'internal_error', message: 'Something went wrong on our side' } } };
  }
}

function pathOf(request: FastifyRequest): string {
  const query = request.url.indexOf('?');
  return query === -1 ? request.url : request.url.slice(0, query);
}
