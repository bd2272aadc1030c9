/** A fixed-window request budget for the whole API (DottedSign's real limits are undocumented). */
export class FixedWindowLimiter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;

  constructor(
    private readonly limit: { requests: number; windowMs: number },
    private readonly now: () => number,
  ) {}

  /** Counts one request; null when allowed, otherwise the milliseconds until the window resets. */
  take(): number | null {
    const now = this.now();
    if (now - this.windowStart >= this.limit.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    this.used += 1;
    return this.used > this.limit.requests ? this.windowStart + this.limit.windowMs - now : null;
  }
}
