/**
 * SQLSTATE class 22, "data exception": the statement's values are at fault (a character PostgreSQL cannot store, a
 * number out of range), not the connection or the schema, so running it again with the same values fails again.
 */
export function isDataException(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/** SQLSTATE 23503: the row refers to one that is gone (a company erased while a request about it was under way). */
export function isForeignKeyViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23503';
}
