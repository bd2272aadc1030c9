/**
 * A simulator's record of what happened (requests, webhook attempts), keeping only the latest `limit` entries: the
 * sandbox runs the simulators inside the app's process for as long as it is up, so an unbounded record would grow
 * its heap until it ran out. Trimmed in steps of a tenth of the limit, so appending stays cheap.
 */
export class LatestEntries<T> {
  private items: T[] = [];
  private readonly trimAt: number;

  constructor(private readonly limit: number) {
    this.trimAt = limit + Math.ceil(limit / 10);
  }

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.trimAt) this.items = this.items.slice(this.items.length - this.limit);
  }

  all(): T[] {
    return [...this.items];
  }

  filter(keep: (item: T) => boolean): T[] {
    return this.items.filter(keep);
  }

  clear(): void {
    this.items = [];
  }
}

/** What the simulators keep of their requests and webhook attempts unless told otherwise: a few MB of heap each. */
export const DEFAULT_LOG_LIMIT = 2_000;
