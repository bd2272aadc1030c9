/**
 * Values kept in memory until a deadline, for reads that would otherwise hit the database on every call
 * (decrypted access tokens: every API call needs one). Never a source of truth: callers drop an entry when the
 * value is found wrong, and the deadline bounds how long a change made elsewhere can go unseen.
 */
export class RecentValues<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  /** `maxEntries`: beyond it the oldest entry is dropped, so keys that are never read again cannot pile up. */
  constructor(
    private readonly maxAgeMs: number,
    private readonly maxEntries = Number.POSITIVE_INFINITY,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until `validUntil` or for the maximum age, whichever comes first. */
  set(key: string, value: V, validUntil: number): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: Math.min(validUntil, Date.now() + this.maxAgeMs) });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
