import { HttpException, HttpStatus } from '@nestjs/common';

/** The one error shape of every JSON answer: `{"error": {"code", "message", "details"?}}`. */
export class ApiError extends HttpException {
  constructor(status: HttpStatus, code: string, message: string, details?: unknown) {
    super({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);
  }

  static badRequest(message: string, details?: unknown) {
    return new ApiError(HttpStatus.BAD_REQUEST, 'bad_request', message, details);
  }

  static unauthorized(message = 'Authentication required') {
    return new ApiError(HttpStatus.UNAUTHORIZED, 'unauthorized', message);
  }

  static forbidden(message = 'Not allowed') {
    return new ApiError(HttpStatus.FORBIDDEN, 'forbidden', message);
  }

  static notFound(message = 'Not found') {
    return new ApiError(HttpStatus.NOT_FOUND, 'not_found', message);
  }

  static conflict(message: string) {
    return new ApiError(HttpStatus.CONFLICT, 'conflict', message);
  }
}
