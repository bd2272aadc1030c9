import { Client } from 'pg';

/** Beyond this many distinct texts (say, IN lists of every length), statements stay unnamed: bounded memory per backend. */
const MAX_NAMED = 256;

const names = new Map<string, string>();
/** Texts whose prepared form went stale (a table's columns changed under a `SELECT *`); sent unnamed from then on. */
const stale = new Set<string>();

function nameFor(text: string): string | null {
  if (stale.has(text)) return null;
  let name = names.get(text);
  if (!name && names.size < MAX_NAMED) {
    name = `s${names.size + 1}`;
    names.set(text, name);
  }
  return name ?? null;
}

function forgetIfStale(text: string, error: unknown): void {
  // 0A000 "cached plan must not change result type": re-preparing under the same name is not possible on a
  // connection that holds it, so the text goes unnamed; the caller's retry (a job's) then succeeds.
  if ((error as { code?: string } | null)?.code === '0A000') stale.add(text);
}

type Callback = (error: Error | null, result?: unknown) => void;

/**
 * A pg client that sends every parameterised statement as a named prepared statement, so PostgreSQL parses it
 * once per connection and can keep a generic plan, instead of parsing and planning it on every execution
 * (measured: planning was half of the statements' time in the database, see docs/performance.md). Used by the
 * app's pool and pg-boss's (`Client` option of `pg.Pool`). Calls without parameters and query objects pass through.
 */
export class NamedStatementClient extends Client {
  // The signature is pg's own overload set; only (text, values[, callback]) calls are changed.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(config: any, values?: any, callback?: any): any {
    const name = typeof config === 'string' && Array.isArray(values) && values.length ? nameFor(config) : null;
    if (!name) return super.query(config, values, callback);
    const text = config as string;
    if (typeof callback === 'function') {
      return super.query({ name, text, values }, (error: Error | null, result: unknown) => {
        if (error) forgetIfStale(text, error);
        (callback as Callback)(error, result);
      });
    }
    return super.query({ name, text, values }).catch((error: unknown) => {
      forgetIfStale(text, error);
      throw error;
    });
  }
}
