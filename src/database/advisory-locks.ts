/**
 * Advisory locks, keyed by text the same way everywhere (`hashtextextended`), taken for the rest of the transaction:
 * - a company's: deal work holds it shared, an erase whole. An erase then waits for the sends, deletes and
 *   write-backs under way, and work that starts after it finds the company gone, so no task is created at
 *   DottedSign for a company already erased.
 * - a deal's: sending, deleting and completing the contracts of one deal never interleave, across processes.
 * Deal work takes its company's lock before any deal's; an erase takes the company's before its row lock.
 */

/** A row id as a SQL literal; ids are bigints, so anything else is refused rather than written into SQL. */
export function idLiteral(value: string): string {
  if (!/^\d{1,19}$/.test(value)) throw new Error(`not a row id: ${JSON.stringify(value)}`);
  return value;
}

export function companyLockSql(companyId: string, mode: 'shared' | 'whole'): string {
  return `SELECT pg_advisory_xact_lock${mode === 'shared' ? '_shared' : ''}(hashtextextended('company:${idLiteral(companyId)}', 0))`;
}

export function dealLockSql(companyId: string, dealId: string): string {
  return `SELECT pg_advisory_xact_lock(hashtextextended('deal:${idLiteral(companyId)}:${idLiteral(dealId)}', 0))`;
}
