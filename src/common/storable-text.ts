/** The JSON escapes of what PostgreSQL's text and jsonb refuse: U+0000, and any surrogate (a paired one is kept). */
const SUSPECT_ESCAPE = /\\u(?:0000|d[89a-f])/i;

/**
 * `JSON.parse`, with strings PostgreSQL could not store mended (see storableStrings): such a character costs the
 * sender a U+FFFD rather than an answer that fails on every retry. The escapes are looked for first, so an
 * ordinary document costs one regular-expression scan more.
 */
export function parseStorableJson(json: string): unknown {
  const parsed: unknown = JSON.parse(json);
  return SUSPECT_ESCAPE.test(json) ? storableStrings(parsed) : parsed;
}

function storable(text: string): string {
  return text.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

/**
 * Replaces, in every string and key of a parsed JSON value (in place), U+0000 and unpaired surrogates with U+FFFD.
 * PostgreSQL rejects both in text and jsonb, so one such character would fail the whole statement it is in.
 * Iterative, so hostile nesting cannot overflow the stack.
 */
export function storableStrings<T>(value: T): T {
  if (typeof value === 'string') return storable(value) as T;
  const pending: unknown[] = [value];
  while (pending.length) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    if (Array.isArray(node)) {
      node.forEach((item, index) => (typeof item === 'string' ? (node[index] = storable(item)) : pending.push(item)));
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      const cleanKey = storable(key);
      if (cleanKey !== key) {
        delete record[key];
        record[cleanKey] = item;
      }
      if (typeof item === 'string') record[cleanKey] = storable(item);
      else pending.push(item);
    }
  }
  return value;
}
