/** DottedSign's error body: `{error_code, error_key, error_message}`; the code's first three digits are the status. */
export class DottedSignError extends Error {
  constructor(
    readonly code: number,
    readonly key: string,
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return Number(String(this.code).slice(0, 3));
  }

  body() {
    return { error_code: this.code, error_key: this.key, error_message: this.message };
  }

  static invalidParams = (message: string) => new DottedSignError(400417, 'invalid_params', message);
  /** The documented 400002: no usable `Authorization: Bearer` header at all. */
  static missingToken = () => new DottedSignError(400002, 'invalid_token', 'missing bearer token');
  /** Unknown or expired token: our reading is a 401 (the reference documents only 400002) so clients refresh. */
  static invalidToken = () => new DottedSignError(401002, 'invalid_token', 'invalid or expired access token');
  /** Simulator choice: DottedSign documents its scopes but not the refusal of a token without one. */
  static insufficientScope = (scope: string) => new DottedSignError(403010, 'insufficient_scope', `the access token lacks the ${scope} scope`);
  static invalidClient = () => new DottedSignError(400005, 'invalid_client', 'invalid client');
  static invalidGrant = (message: string) => new DottedSignError(400006, 'invalid_grant', message);
  static taskDeleted = () => new DottedSignError(400033, 'task_deleted', 'task deleted');
  static invalidAction = (message: string) => new DottedSignError(403002, 'invalid_action', message);
  static overQuota = () => new DottedSignError(403032, 'over_monthly_task_usage', 'over monthly task usage');
  static taskNotAccessible = () => new DottedSignError(403036, 'task_not_accessible', 'task not accessible');
  static templateNotAccessible = () => new DottedSignError(403044, 'template_not_accessible', 'template not accessible');
  static notFound = (message: string) => new DottedSignError(404001, 'not_found', message);
}
