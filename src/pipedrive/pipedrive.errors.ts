/** A Pipedrive call that failed. `retryable` separates transient trouble from answers that will not change. */
export class PipedriveApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** The rate limit is spent for longer than is worth waiting in-process: come back at `retryAt`. */
export class PipedriveRateLimitedError extends PipedriveApiError {
  constructor(readonly retryAt: Date) {
    super(`Pipedrive rate limit reached; retry at ${retryAt.toISOString()}`, 429, true);
  }
}

/** Pipedrive refused the refresh token: the user uninstalled or revoked access. */
export class InstallationRevokedError extends Error {
  constructor(readonly installationId: string, reason: string) {
    super(`installation ${installationId} can no longer act: ${reason}`);
  }
}
