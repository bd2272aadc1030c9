import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';

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

/** Body-parser errors carry their HTTP status and a `type` such as `entity.parse.failed`. */
interface ParserError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
}

function parserMessage(error: ParserError): string {
  switch (error.type) {
    case 'entity.parse.failed':
      return 'The request body is not valid JSON';
    case 'entity.too.large':
      return 'The request body is too large';
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return 'Unsupported body encoding';
    default:
      return error.message ?? 'Bad request';
  }
}

/**
 * Every error leaves as `{"error": {"code", "message"}}` with a 4xx for the client's mistakes;
 * anything unexpected is logged and answered with a bare 500 (never a stack trace).
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const request = host.switchToHttp().getRequest<Request>();
    if (response.headersSent) return;
    const { status, body } = this.describe(exception, request);
    if (status >= 500) {
      this.logger.error(
        `${request.method} ${request.path} failed: ${exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)}`,
      );
    }
    response.status(status).json(body);
  }

  private describe(exception: unknown, request: Request): { status: number; body: unknown } {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const payload = exception.getResponse();
      if (typeof payload === 'object' && payload !== null && 'error' in payload && typeof payload.error === 'object') {
        return { status, body: payload };
      }
      const message =
        status === HttpStatus.NOT_FOUND
          ? `No route for ${request.method} ${request.path}`
          : typeof payload === 'string'
            ? payload
            : String((payload as { message?: unknown }).message ?? exception.message);
      return { status, body: { error: { code: CODES[status] ?? 'error', message } } };
    }
    const parserError = exception as ParserError;
    const parserStatus = parserError?.status ?? parserError?.statusCode;
    if (parserError?.expose && parserStatus && parserStatus >= 400 && parserStatus < 500) {
      return { status: parserStatus, body: { error: { code: CODES[parserStatus] ?? 'bad_request', message: parserMessage(parserError) } } };
    }
    return { status: 500, body: { error: { code: 'internal_error', message: 'Something went wrong on our side' } } };
  }
}
