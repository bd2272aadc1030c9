import { API_ERRORS } from './platform-facts';

/** An error the simulated API answers in Pipedrive's envelope: `{success: false, error, error_info}`. */
export class PipedriveApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly info: string = API_ERRORS.info,
  ) {
    super(message);
  }

  static badRequest(message: string): PipedriveApiError {
    return new PipedriveApiError(400, message);
  }

  static notFound(message: string): PipedriveApiError {
    return new PipedriveApiError(404, message);
  }
}
