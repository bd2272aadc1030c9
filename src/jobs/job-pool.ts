import type PgBoss from 'pg-boss';
import { Batcher } from '../common/batcher';

/** What a job's run resolves to when its own statement already completed the job (see `JobQueue.completeJobs`). */
export const JOB_COMPLETED = 'job-completed';

/** How often settling a job (complete, fail) is tried again while the database does not answer. */
const SETTLE_RETRY_MS = 1000;

/**
 * Completing or failing a job during a database outage is tried again each second until the job would expire: one
 * that was done (or failed) must not sit `active` until its expiry and run again once the database is back.
 */
export async function settleJob(job: PgBoss.JobWithMetadata<unknown>, settle: () => Promise<unknown>): Promise<void> {
  const expiresAt = (job.startedOn ? new Date(job.startedOn).getTime() : Date.now()) + job.expireInSeconds * 1000;
  for (;;) {
    try {
      await settle();
      return;
    } catch (error) {
      if (Date.now() + SETTLE_RETRY_MS >= expiresAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_RETRY_MS));
    }
  }
}

export interface JobPoolOptions<T> {
  boss: PgBoss;
  queue: string;
  concurrency: number;
  /** Idle, the queue is looked at this often (jobs from other processes, retries coming due). */
  pollMs: number;
  /** Runs one job and settles its failure itself; resolving means the job is done (and with `JOB_COMPLETED`, completed). */
  run(job: PgBoss.JobWithMetadata<T>): Promise<void | typeof JOB_COMPLETED>;
  /** A fetch found more jobs queued than it took (at most once per `BACKLOG_NOTICE_MS`). */
  onBacklog?(): Promise<void>;
  onError(error: Error): void;
}

const BACKLOG_NOTICE_MS = 15_000;
/** While stopping, how often reservations still waiting for their statement are looked at. */
const STOP_CHECK_MS = 20;

/**
 * Keeps up to `concurrency` jobs of one queue running at all times: a slot that frees up is filled at once,
 * instead of waiting for the slowest job of a fetched batch (pg-boss's own worker) or for the polling interval.
 */
export class JobPool<T> {
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private woken = false;
  private signal: (() => void) | null = null;
  private waitingForSlot = false;
  private loop: Promise<void> | null = null;
  private backlogNoticedAt = 0;
  /** Slots promised to jobs their enqueuer starts itself (`reserve`), not yet handed over. */
  private reserved = 0;
  /**
   * Jobs may be waiting in the queue (woken for new ones, or the last fetch filled every slot or failed): until a
   * fetch finds fewer than it asked for, slots go to them, oldest first, and `reserve` takes none.
   */
  private queued = true;
  /** Slots the fetch in flight may fill. */
  private fetching = 0;
  /** Jobs finishing while a completion is being written are completed together, in one statement. */
  private readonly completions: Batcher<string, void>;

  constructor(private readonly options: JobPoolOptions<T>) {
    this.completions = new Batcher<string, void>(
      async (ids) => {
        await options.boss.complete(options.queue, ids);
        return ids.map(() => undefined);
      },
      { maxBatch: 100, maxInFlight: 1 },
    );
  }

  start(): void {
    this.loop = this.fetchLoop();
  }

  /** New jobs were committed: look now. */
  wake(): void {
    this.woken = true;
    this.queued = true;
    this.signal?.();
  }

  /**
   * Takes up to `count` free slots for jobs the caller enqueues already started (state `active`), so they run here
   * without being fetched. Each reservation ends with one `startReserved`, with the jobs or with none. None is taken
   * while jobs may be queued: new jobs do not overtake them.
   */
  reserve(count: number): number {
    if (this.stopping || this.queued) return 0;
    const taken = Math.max(0, Math.min(count, this.free()));
    this.reserved += taken;
    return taken;
  }

  /** Runs the jobs started in `reserved` slots (at most that many) and gives back the slots they did not take. */
  startReserved(jobs: Array<PgBoss.JobWithMetadata<T>>, reserved: number): void {
    this.reserved -= reserved;
    // Left alone, they expire and are retried like the jobs of a killed process.
    if (jobs.length > reserved) throw new Error(`${jobs.length} jobs started in ${reserved} reserved slots`);
    for (const job of jobs) this.track(job);
    if (jobs.length < reserved && this.waitingForSlot) this.signal?.();
  }

  /**
   * Stops fetching and reserving, and waits, at most `timeoutMs`, for the running jobs and for those of reservations
   * taken before: their statements may commit after the stop began.
   */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.stopping = true;
    this.signal?.();
    await this.loop;
    while ((this.running.size || this.reserved) && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const pause = new Promise((resolve) => (timer = setTimeout(resolve, this.reserved ? STOP_CHECK_MS : deadline - Date.now())));
      await Promise.race(this.running.size ? [Promise.allSettled([...this.running]), pause] : [pause]);
      clearTimeout(timer);
    }
  }

  private async fetchLoop(): Promise<void> {
    const { boss, queue, concurrency, pollMs } = this.options;
    let backlog = false;
    while (!this.stopping) {
      this.woken = false;
      const free = this.free();
      // A fetch costs the database a scan of every queued job (pg-boss sorts them by priority and age), so with a
      // backlog, slots are filled in batches of at least a quarter of the pool rather than one by one.
      if (free <= 0 || (backlog && free < Math.ceil(concurrency / 4))) {
        await this.wait(pollMs, true);
        continue;
      }
      let fetched = 0;
      this.fetching = free;
      try {
        const jobs = await boss.fetch<T>(queue, { batchSize: free, includeMetadata: true });
        for (const job of jobs ?? []) this.track(job);
        fetched = jobs?.length ?? 0;
      } catch (error) {
        this.options.onError(error as Error);
        fetched = -1;
      } finally {
        this.fetching = 0;
      }
      // Every free slot filled: more may be queued. Otherwise the queue is empty until woken or the next poll.
      backlog = fetched === free;
      this.queued = backlog || this.woken || fetched < 0;
      if (backlog && this.options.onBacklog && Date.now() - this.backlogNoticedAt > BACKLOG_NOTICE_MS) {
        this.backlogNoticedAt = Date.now();
        void this.options.onBacklog().catch((error: Error) => this.options.onError(error));
      }
      if (backlog || this.woken || this.stopping) continue;
      await this.wait(pollMs, false);
    }
  }

  private free(): number {
    return this.options.concurrency - this.running.size - this.reserved - this.fetching;
  }

  private track(job: PgBoss.JobWithMetadata<T>): void {
    const running: Promise<void> = this.runWithinExpiry(job)
      .then((result) => (result === JOB_COMPLETED ? undefined : settleJob(job, () => this.completions.add(job.id))))
      .catch((error: Error) => this.options.onError(error))
      .finally(() => {
        this.running.delete(running);
        if (this.waitingForSlot) this.signal?.();
      });
    this.running.add(running);
  }

  /**
   * A job still running at its expiry is retried by pg-boss elsewhere; its slot is given back here, so one hung
   * call cannot block the pool (the call itself cannot be cancelled).
   */
  private runWithinExpiry(job: PgBoss.JobWithMetadata<T>): Promise<void | typeof JOB_COMPLETED> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`job ${this.options.queue} ${job.id} still running after ${job.expireInSeconds} s`)), job.expireInSeconds * 1000);
    });
    return Promise.race([this.options.run(job), expired]).finally(() => clearTimeout(timer));
  }

  /** Until woken, the time is up, or (`forSlot`) a running job ends. */
  private wait(ms: number, forSlot: boolean): Promise<void> {
    this.waitingForSlot = forSlot;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.signal = null;
        this.waitingForSlot = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.signal = done;
    });
  }
}
