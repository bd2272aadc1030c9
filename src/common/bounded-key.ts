import { createHash } from 'node:crypto';

/** Longest dedupe key stored as it is: a few readable fields, far below PostgreSQL's btree row limit (~2,700 bytes). */
const MAX_KEY_LENGTH = 300;

/**
 * A dedupe key fit for a unique index. Keys are built from what a sender sent (ids, timestamps, an email), which a
 * unique btree cannot hold beyond about 2,700 bytes: one such key would fail every statement it is in, with an
 * error no retry cures. A longer key is replaced by its SHA-256, which dedupes the same way.
 */
export function boundedKey(key: string): string {
  return key.length <= MAX_KEY_LENGTH ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}
