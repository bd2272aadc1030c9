/**
 * Values kept in memory until a deadline, for reads that would otherwise hit the database on every call
 * (decrypted access tokens: every API call needs one). Never a source of truth: callers drop an entry when the
 * value is found wrong, and the deadline bounds how long a change made elsewhere can go unseen.
 */
export class RecentValues<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly maxAgeMs: number) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until `validUntil` or for the maximum age, whichever comes first. */
  set(key: string, value: V, validUntil: number): void {
    this.entries.set(key, { value, until: Math.min(validUntil, Date.now() + this.maxAgeMs) });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
