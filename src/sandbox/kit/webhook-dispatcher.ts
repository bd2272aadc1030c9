import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { DEFAULT_LOG_LIMIT, LatestEntries } from './latest-entries';

export interface WebhookDelivery {
  url: string;
  body: string;
  headers: Record<string, string>;
  meta?: Record<string, unknown>;
}

export interface WebhookAttempt {
  id: string;
  url: string;
  /** 1 for the first try, then 2, 3 … for retries. */
  attempt: number;
  status: number | null;
  error?: string;
  at: string;
  /** From sending the request to its answer (or error). */
  durationMs: number;
  body: string;
  /** As sent, credentials included: this is a test tool. */
  headers: Record<string, string>;
  meta?: Record<string, unknown>;
  outcome: 'delivered' | 'failed' | 'dropped';
}

export interface WebhookDispatcherOptions {
  /** Delay before each retry after a failed attempt; its length is the number of retries. */
  retryDelaysMs: number[];
  /**
   * How long a receiver has to answer, never scaled: a loaded machine answering in a second or two is not failing,
   * and the vendor would wait the full time.
   */
  timeoutMs: number;
  /** Multiplies every retry delay (0.001 turns seconds into milliseconds for tests). */
  timeScale?: number;
  /** Called after every attempt; a simulator layers its own rules (bans, deletion) on it. */
  onAttempt?: (attempt: WebhookAttempt) => void;
  /** Asked before every attempt; false skips the delivery (e.g. a banned or deleted webhook). */
  shouldAttempt?: (delivery: WebhookDelivery, attempt: number) => boolean;
  /** Lets a simulator adjust each attempt's delivery (e.g. Pipedrive's `meta.attempt`). */
  prepare?: (delivery: WebhookDelivery, attempt: number) => WebhookDelivery;
  /** How many of the latest attempts `attempts()` keeps (default DEFAULT_LOG_LIMIT). */
  logLimit?: number;
}

interface Pending {
  id: string;
  delivery: WebhookDelivery;
}

/**
 * Outbound webhooks with retries, and the misbehaviours of real senders on demand: dropped deliveries,
 * duplicates, and held deliveries released in reverse (out of order).
 */
export class WebhookDispatcher {
  private readonly log: LatestEntries<WebhookAttempt>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private held: Pending[] | null = null;
  /** Deliveries to drop: the next `remaining` whose `meta` has every field of `match` (any delivery without one). */
  private drops: Array<{ remaining: number; match?: Record<string, string | number> }> = [];
  private toDuplicate = 0;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  /** Bumped by clear(): attempts started before it finish silently instead of logging or retrying. */
  private generation = 0;
  /** Released deliveries still waiting for their turn. */
  private releasing = 0;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.log = new LatestEntries(options.logLimit ?? DEFAULT_LOG_LIMIT);
  }

  send(delivery: WebhookDelivery): void {
    const pending = { id: randomUUID(), delivery };
    if (this.held) {
      this.held.push(pending);
      return;
    }
    void this.dispatch(pending);
  }

  /** The next `count` deliveries vanish; with `match`, only those whose `meta` has those values (compared as text). */
  dropNext(count: number, match?: Record<string, string | number>): void {
    this.drops.push({ remaining: count, match });
  }

  duplicateNext(count: number): void {
    this.toDuplicate += count;
  }

  hold(): void {
    this.held ??= [];
  }

  /**
   * Sends the held deliveries one after another (each first attempt finishes before the next starts), so the
   * receiver sees them in exactly this order; retries then run on their own schedule.
   */
  release(order: 'fifo' | 'reverse' = 'fifo'): number {
    const held = this.held ?? [];
    this.held = null;
    if (!held.length) return 0;
    const queue = order === 'reverse' ? [...held].reverse() : held;
    this.releasing += queue.length;
    this.inFlight += 1;
    void this.dispatchInOrder(queue, this.generation).finally(() => this.done());
    return held.length;
  }

  attempts(): WebhookAttempt[] {
    return this.log.all();
  }

  pending(): number {
    return this.inFlight + this.releasing + (this.held?.length ?? 0);
  }

  /** No delivery is in flight or waiting for a retry; held deliveries do not count (release them first). */
  isIdle(): boolean {
    return this.inFlight === 0;
  }

  /** Resolves once `isIdle()`. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.generation += 1;
    this.log.clear();
    this.held = null;
    this.drops = [];
    this.toDuplicate = 0;
    this.inFlight = 0;
    this.releasing = 0;
    this.settle();
  }

  close(): void {
    this.closed = true;
    this.clear();
  }

  private async dispatchInOrder(queue: Pending[], generation: number): Promise<void> {
    for (const pending of queue) {
      if (this.closed || generation !== this.generation) return;
      this.releasing -= 1;
      await this.dispatch(pending);
    }
  }

  /** Starts the first attempt (twice for a duplicate); resolves when those first attempts have finished. */
  private async dispatch(pending: Pending): Promise<void> {
    const meta = pending.delivery.meta ?? {};
    const drop = this.drops.find((rule) => !rule.match || Object.entries(rule.match).every(([key, value]) => String(meta[key]) === String(value)));
    if (drop) {
      drop.remaining -= 1;
      if (drop.remaining === 0) this.drops = this.drops.filter((rule) => rule !== drop);
      this.record(pending, 1, null, 'dropped', 0);
      return;
    }
    const copies = this.toDuplicate > 0 ? 2 : 1;
    if (copies === 2) this.toDuplicate -= 1;
    const first: Array<Promise<void>> = [];
    for (let copy = 0; copy < copies; copy++) {
      this.inFlight += 1;
      first.push(this.attempt({ id: copy ? randomUUID() : pending.id, delivery: pending.delivery }, 1, this.generation));
    }
    await Promise.all(first);
  }

  private scale(ms: number): number {
    return Math.max(0, Math.round(ms * (this.options.timeScale ?? 1)));
  }

  private async attempt(pending: Pending, attempt: number, generation: number): Promise<void> {
    const stale = () => this.closed || generation !== this.generation;
    if (stale()) return;
    if (this.options.shouldAttempt && !this.options.shouldAttempt(pending.delivery, attempt)) {
      this.record(pending, attempt, null, 'dropped', 0, 'skipped by the simulator');
      return this.done();
    }
    const delivery = this.options.prepare ? this.options.prepare(pending.delivery, attempt) : pending.delivery;
    let status: number | null = null;
    let error: string | undefined;
    const started = performance.now();
    try {
      const { timeoutMs } = this.options;
      const response = await request(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...delivery.headers },
        body: delivery.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      await response.body.dump().catch(() => undefined);
    } catch (failure) {
      const code = (failure as { code?: string }).code;
      error = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? 'timeout' : (failure as Error).message;
    }
    if (stale()) return;
    const durationMs = Math.round(performance.now() - started);
    const ok = status !== null && status >= 200 && status < 300;
    this.record({ ...pending, delivery }, attempt, status, ok ? 'delivered' : 'failed', durationMs, error);
    const delay = this.options.retryDelaysMs[attempt - 1];
    if (ok || delay === undefined) return this.done();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(pending, attempt + 1, generation);
    }, this.scale(delay));
    this.timers.add(timer);
  }

  private record(pending: Pending, attempt: number, status: number | null, outcome: WebhookAttempt['outcome'], durationMs: number, error?: string): void {
    const entry: WebhookAttempt = {
      id: pending.id,
      url: pending.delivery.url,
      attempt,
      status,
      ...(error ? { error } : {}),
      at: new Date().toISOString(),
      durationMs,
      body: pending.delivery.body,
      headers: pending.delivery.headers,
      meta: pending.delivery.meta,
      outcome,
    };
    this.log.push(entry);
    this.options.onAttempt?.(entry);
  }

  private done(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.settle();
  }

  private settle(): void {
    if (this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
