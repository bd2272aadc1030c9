/**
 * Pipedrive behaviour taken from /work/shared/reference/pipedrive.md. Everything the reference marks as
 * unverified (or that it does not state at all) lives here so it can be corrected in one place.
 */

export const DEFAULT_APP_SCOPES = ['base', 'deals:full', 'contacts:read', 'admin'] as const;

export const TIMINGS = {
  authorizationCodeTtlMs: 5 * 60_000,
  accessTokenTtlSeconds: 3600,
  /** Verified: expires after 60 days unused; each refresh extends it. Not scaled by timeScale. */
  refreshTokenIdleTtlMs: 60 * 24 * 3600_000,
  webhookTimeoutMs: 10_000,
  webhookRetryDelaysMs: [3_000, 30_000, 150_000],
  webhookFirstAttemptFailuresBeforeBan: 10,
  webhookBanMs: 30 * 60_000,
  webhookDeleteAfterFailingMs: 3 * 24 * 3600_000,
} as const;

export const RATE_LIMITS = {
  burstWindowMs: 2_000,
  burstPerWindow: 80,
  dailyTokensPerSeat: 30_000,
} as const;

/** Token cost of one call, by kind (the reference says "about"). */
export const CALL_COSTS = {
  v2Get: 1,
  v2Update: 5,
  v1Get: 2,
  v1Write: 10,
  list: 20,
} as const;
export type CallCost = keyof typeof CALL_COSTS;

export const MAX_WEBHOOKS_PER_USER = 40;

/** Error strings. Only `Invalid grant: …` style and `Scope and URL mismatch` are from the reference. */
export const OAUTH_ERRORS = {
  codeInvalid: 'Invalid grant: authorization_code is invalid',
  refreshTokenInvalid: 'Invalid grant: refresh_token is invalid',
  redirectUriInvalid: 'Invalid grant: redirect_uri is invalid',
  clientInvalid: 'Invalid client: client authentication failed',
  grantTypeUnsupported: 'Unsupported grant type',
  requestInvalid: 'Invalid request: missing parameter',
} as const;

export const API_ERRORS = {
  unauthorized: 'unauthorized access',
  info: 'Please check developers.pipedrive.com for more information about Pipedrive API.',
  expiredTokenInfo: 'Access token expired',
  scopeMismatch: 'Scope and URL mismatch',
  rateLimited: 'Request over limit',
  dailyBudgetSpent: 'Daily token budget exceeded',
  notFound: (entity: string) => `${entity} not found`,
  archivedDeal: 'Archived deals cannot be updated',
  /** Unverified wording; the 403 itself is documented (pipeline visibility changelog, 2023-01-23). */
  dealNotVisible: 'You do not have permission to access this deal',
  webhookLimit: `Maximum amount of webhooks (${MAX_WEBHOOKS_PER_USER}) reached for this user`,
  /** Undocumented: only under the owner-only reading of webhook deletes (`SimulatorStore.webhookAccess`). */
  webhookNotOwned: 'You are not allowed to delete this webhook',
} as const;
