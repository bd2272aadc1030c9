import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import PgBoss from 'pg-boss';
import { type AppConfig, CONFIG } from '../config/app-config';
import { NamedStatementClient } from '../database/named-statements';
import type { Tx } from '../database/transaction-runner';
import { JOB_COMPLETED, JobPool, settleJob } from './job-pool';

export interface QueuePolicy {
  /** Retries after the first attempt. */
  retryLimit: number;
  /** Base delay in seconds; doubled per retry with jitter (pg-boss's retryBackoff). */
  retryDelaySeconds: number;
  /** No retry waits longer than this (jittered down to half of it), however many tries have failed. */
  maxRetryDelaySeconds: number;
  /** An active job older than this is failed and retried (a crashed worker's job comes back). */
  expireInSeconds: number;
}

/**
 * The one retry policy: about 2, 4, 8, 16, 32 seconds apart, then 30 to 60 s apart, jittered; 21 tries over 9 to 17
 * minutes, as long as the 9 uncapped ones took. The cap keeps a job that met a run of failures from waiting minutes
 * after the vendor has recovered.
 */
export const DEFAULT_POLICY: QueuePolicy = { retryLimit: 20, retryDelaySeconds: 2, maxRetryDelaySeconds: 60, expireInSeconds: 300 };

export interface SendOptions {
  /** Enqueue inside the caller's transaction: the job exists only if that transaction commits. */
  tx?: Tx;
  startAfter?: Date | number;
}

export { JOB_COMPLETED };
export type JobHandler<T> = (job: Job<T>) => Promise<void | typeof JOB_COMPLETED>;

export interface Job<T> {
  id: string;
  name: string;
  data: T;
  retryCount: number;
  retryLimit: number;
}

/**
 * Job data key, hidden from handlers: when a vendor first told this job to wait (a rate limit). Such waits use no
 * retry for this long, so a Pipedrive daily budget spent until midnight defers the day's jobs instead of failing them.
 */
const DEFERRED_SINCE = '_deferredSince';
const MAX_FREE_DEFERRAL_MS = 26 * 3600_000;

/** A handler's error that knows when trying again makes sense (a rate limit's reset) carries `retryAt`. */
function retryAtOf(error: unknown): Date | null {
  const retryAt = (error as { retryAt?: unknown } | null)?.retryAt;
  return retryAt instanceof Date && retryAt.getTime() > Date.now() ? retryAt : null;
}

/**
 * Two partial indexes pg-boss 10 lacks, on the partitioned `pgboss.job` (every queue's table gets them, later ones
 * when pg-boss attaches them):
 * - `job_fetch_order`: pg-boss fetches the next jobs `ORDER BY priority DESC, created_on, id` over an index on
 *   (name, start_after), so every fetch read and sorted the queue's whole backlog: 20 to 25 ms at 20,000 queued jobs,
 *   which made draining a backlog slower the longer it was. With the index a fetch reads only the jobs it takes: 0.1
 *   to 0.3 ms at the same backlog, once the planner knows there is a backlog (see `refreshStatistics`).
 * - `job_active_since`: the expiry check (`expireAndCapRetries`) reads the few running jobs instead of the whole table:
 *   0.08 ms instead of 220 ms beside a million completed jobs.
 * Building an index locks the job table against inserts, so a boot only builds one that is missing (a restart beside
 * a busy process must not stall its webhooks); processes starting together take turns on the lock.
 */
const JOB_INDEXES = `DO $$ BEGIN
  IF to_regclass('pgboss.job_fetch_order') IS NULL OR to_regclass('pgboss.job_active_since') IS NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext('pgboss.job indexes'));
    CREATE INDEX IF NOT EXISTS job_fetch_order ON pgboss.job (name, priority DESC, created_on, id) WHERE state < 'active';
    CREATE INDEX IF NOT EXISTS job_active_since ON pgboss.job (started_on) WHERE state = 'active';
  END IF;
END $$`;

/** What `insertJobsFrom` returns of each job: enough to run a started one as a fetched one would run. */
const STARTED_JOB_COLUMNS = `id, name, data, state, retry_limit, retry_count, retry_delay, retry_backoff, started_on, extract(epoch FROM expire_in) AS expire_seconds`;

export interface StartedJobRow {
  id: string;
  name: string;
  data: unknown;
  state: string;
  retry_limit: number;
  retry_count: number;
  retry_delay: number;
  retry_backoff: boolean;
  started_on: Date | string | null;
  expire_seconds: number | string;
}

/** Slots taken by `JobQueue.reserve`; `start` is called once, with the statement's rows or with none. */
export interface Reservation {
  slots: number;
  start(rows: StartedJobRow[]): void;
}

function startedJob(row: StartedJobRow): PgBoss.JobWithMetadata<unknown> {
  return {
    id: row.id,
    name: row.name,
    data: row.data,
    state: 'active',
    retryLimit: row.retry_limit,
    retryCount: row.retry_count,
    retryDelay: row.retry_delay,
    retryBackoff: row.retry_backoff,
    startedOn: new Date(row.started_on as string),
    expireInSeconds: Number(row.expire_seconds),
  } as PgBoss.JobWithMetadata<unknown>;
}

const STOP_TIMEOUT_MS = 10_000;
/** How often an idle worker looks for jobs it was not woken for (other processes' jobs, retries coming due). */
const POLL_MS = 1000;
/**
 * The same for scheduled work, whose jobs come at most once a minute (pg-boss's cron looks every 30 s): each idle
 * look is a planned fetch, about 0.5 ms of database time.
 */
const SCHEDULED_POLL_MS = 10_000;
/**
 * How often each process hands expired jobs back (a killed process's running jobs) and caps retry delays. pg-boss
 * expires jobs in its maintenance pass, every 120 s, with its archiving scan of the whole job table; this check
 * reads only the running and retrying jobs, so it can run often: a killed process's job runs again at most this
 * long after its expiry.
 */
const EXPIRY_CHECK_MS = 5000;

@Injectable()
export class JobQueue implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobQueue.name);
  private readonly boss: PgBoss;
  private readonly pools = new Map<string, JobPool<unknown>[]>();
  private readonly policies = new Map<string, QueuePolicy>();
  /** Each defined queue's own table (a partition of `pgboss.job`), for statements written against it directly. */
  private readonly partitions = new Map<string, string>();
  private started = false;
  private expiryCheck: NodeJS.Timeout | undefined;
  private expiring = false;

  constructor(@Inject(CONFIG) config: AppConfig) {
    this.boss = new PgBoss({
      connectionString: config.databaseUrl,
      schema: 'pgboss',
      max: 5,
      application_name: 'pipedrive-dottedsign-jobs',
      archiveCompletedAfterSeconds: 3600,
      archiveFailedAfterSeconds: 7 * 24 * 3600,
      deleteAfterDays: 14,
      schedule: config.runPeriodicJobs,
      // Passed through to pg-boss's pg.Pool.
      ...({ Client: NamedStatementClient } as object),
    });
    this.boss.on('error', (error) => this.logger.error(`job queue: ${error.message}`));
  }

  async onModuleInit(): Promise<void> {
    await this.boss.start();
    await this.boss.getDb().executeSql(JOB_INDEXES, []);
    this.expiryCheck = setInterval(() => void this.expireAndCapRetries(), EXPIRY_CHECK_MS);
    this.started = true;
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.expiryCheck);
    await Promise.all([...this.pools.values()].flat().map((pool) => pool.stop(STOP_TIMEOUT_MS)));
    await this.boss.stop({ graceful: true, wait: true, timeout: STOP_TIMEOUT_MS });
  }

  isStarted(): boolean {
    return this.started;
  }

  /** Creates the queue (idempotent, safe from several processes) and records its retry policy. */
  async define(name: string, policy: Partial<QueuePolicy> = {}): Promise<void> {
    const full = { ...DEFAULT_POLICY, ...policy };
    const options = {
      name,
      retryLimit: full.retryLimit,
      retryDelay: full.retryDelaySeconds,
      retryBackoff: full.retryDelaySeconds > 0,
      expireInSeconds: full.expireInSeconds,
    };
    // Processes booting together create partitions of the same table and can deadlock; one of them retries.
    for (let attempt = 1; ; attempt += 1) {
      try {
        if (!(await this.boss.getQueue(name))) await this.boss.createQueue(name, options);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== '40P01' || attempt >= 5) throw error;
        await sleep(50 * attempt + Math.random() * 100);
      }
    }
    await this.boss.updateQueue(name, options);
    const { rows } = await this.boss.getDb().executeSql('SELECT partition_name FROM pgboss.queue WHERE name = $1', [name]);
    const partition = (rows as Array<{ partition_name: string | null }>)[0]?.partition_name;
    if (!partition || !/^j[0-9a-f]+$/.test(partition)) throw new Error(`job queue ${name} has no table of its own (partition ${String(partition)})`);
    this.partitions.set(name, partition);
    this.policies.set(name, full);
  }

  async send<T extends object>(name: string, data: T, options: SendOptions = {}): Promise<string | null> {
    const { tx, ...jobOptions } = options;
    const db = tx ? { executeSql: (text: string, values: unknown[]) => tx.manager.query(text, values).then((rows) => ({ rows })) } : undefined;
    const id = await this.boss.send(name, data, { ...jobOptions, ...(db ? { db } : {}) });
    if (tx) tx.afterCommit(() => this.wake(name));
    else this.wake(name);
    return id;
  }

  /**
   * An `INSERT` that enqueues one job of the queue named by parameter `queueParam` per row of `source` (a CTE or
   * table with a jsonb column `data`), the queue's policy applied as pg-boss's own insert applies it. It is meant
   * for a data-modifying CTE, so rows and their jobs commit in one statement, without a transaction around it
   * (pg-boss 10's `job` table; the test in test/foundation/job-queue.spec.ts compares it with pg-boss's insert).
   * With `startParam` (an integer: slots from `reserve`), that many of the jobs are inserted already started, as
   * pg-boss's fetch would start them. Every job comes back as a `StartedJobRow`; once the statement has committed,
   * its caller hands them to `Reservation.start`, and calls `enqueued(name)` if any were not started.
   */
  insertJobsFrom(source: string, queueParam: string, startParam?: string): string {
    const started = startParam ? `s.n <= ${startParam}` : 'false';
    return `INSERT INTO pgboss.job (name, data, state, started_on, dead_letter, expire_in, keep_until, retry_limit, retry_delay, retry_backoff, policy)
      SELECT ${queueParam}, s.data,
        CASE WHEN ${started} THEN 'active'::pgboss.job_state ELSE 'created'::pgboss.job_state END,
        CASE WHEN ${started} THEN now() END,
        q.dead_letter,
        COALESCE(q.expire_seconds * interval '1s', interval '15 minutes'),
        now() + COALESCE(q.retention_minutes * interval '1 minute', interval '14 days'),
        COALESCE(q.retry_limit, 2),
        CASE WHEN COALESCE(q.retry_backoff, false) THEN GREATEST(COALESCE(q.retry_delay, 0), 1) ELSE COALESCE(q.retry_delay, 0) END,
        COALESCE(q.retry_backoff, false),
        q.policy
      FROM (SELECT data, row_number() OVER () AS n FROM ${source} AS source_rows) s LEFT JOIN pgboss.queue q ON q.name = ${queueParam}
      RETURNING ${STARTED_JOB_COLUMNS}`;
  }

  /**
   * Free slots of this process's worker of `name`, for jobs an `insertJobsFrom` statement starts itself: they run
   * here at once, without a fetch (the costliest statement of a job, see docs/decisions.md). A process killed
   * between the commit and the run leaves them active; pg-boss's expiry hands them back, as for any job it was running.
   */
  reserve(name: string, count: number): Reservation {
    const pool = (this.pools.get(name) ?? [])[0];
    const slots = pool?.reserve(count) ?? 0;
    let open = true;
    return {
      slots,
      start: (rows) => {
        if (!open) throw new Error(`reservation of ${name} used twice`);
        open = false;
        const jobs = rows.filter((row) => row.state === 'active').map(startedJob);
        if (pool) pool.startReserved(jobs, slots);
        else if (jobs.length) throw new Error(`${jobs.length} jobs of ${name} started without a worker`);
      },
    };
  }

  /**
   * An `UPDATE` that completes the active jobs with the ids in parameter `idsParam` (uuid[]) of the defined queue
   * `name`, as pg-boss's `complete` does. It is meant for a data-modifying CTE, so a handler records its outcome and
   * completes its job in one statement; the handler then returns `JOB_COMPLETED`. It updates the queue's own table
   * rather than the partitioned `pgboss.job`: planning an update of the partitioned table for each statement (no
   * generic plan is cheaper) cost the database more than running it.
   */
  completeJobs(idsParam: string, name: string): string {
    const partition = this.partitions.get(name);
    if (!partition) throw new Error(`job queue ${name} is not defined`);
    // The name too: the table's primary key is (name, id).
    return `UPDATE pgboss.${partition} SET completed_on = now(), state = 'completed', output = NULL
      WHERE name = '${name.replace(/'/g, "''")}' AND id = ANY(${idsParam}) AND state = 'active'`;
  }

  /** Jobs of `name` were committed by a statement of `insertJobsFrom`: start them now. */
  enqueued(name: string): void {
    this.wake(name);
  }

  /**
   * Registers a worker that keeps up to `concurrency` jobs running, each with its own outcome: one job's failure
   * retries that job only.
   */
  async work<T>(name: string, handler: JobHandler<T>, options: { concurrency?: number; pollMs?: number } = {}): Promise<void> {
    if (!this.policies.has(name)) await this.define(name);
    const pool = new JobPool<T>({
      boss: this.boss,
      queue: name,
      concurrency: options.concurrency ?? 4,
      pollMs: options.pollMs ?? POLL_MS,
      run: (job) => this.handle(name, job, handler),
      onBacklog: () => this.refreshStatistics(name),
      onError: (error) => this.logger.error(`job queue ${name}: ${error.message}`),
    });
    pool.start();
    this.pools.set(name, [...(this.pools.get(name) ?? []), pool as JobPool<unknown>]);
  }

  /**
   * Periodic work: `run` on a cron schedule, once per cluster whatever the number of processes (the schedule is
   * shared, each process offers a worker), one run at a time per process.
   */
  async scheduled(name: string, cron: string, run: () => Promise<unknown>): Promise<void> {
    await this.work(name, async () => {
      await run();
    }, { concurrency: 1, pollMs: SCHEDULED_POLL_MS });
    await this.boss.schedule(name, cron, {});
  }

  async get(name: string, id: string): Promise<PgBoss.JobWithMetadata | null> {
    return this.boss.getJobById(name, id, { includeArchive: true });
  }

  /**
   * A queue's table swings between empty and a backlog faster than autovacuum analyzes it (once a minute at most):
   * planned with the empty table's statistics, the fetch sorts the whole backlog instead of reading the fetch-order
   * index. Its statistics are refreshed when a backlog appears.
   */
  private async refreshStatistics(name: string): Promise<void> {
    const partition = this.partitions.get(name);
    if (partition) await this.boss.getDb().executeSql(`ANALYZE pgboss.${partition}`, []);
  }

  /**
   * pg-boss's own expiry step: a running job past its `expireInSeconds` is retried (or failed, out of retries).
   * Then retries are capped: pg-boss doubles a retry's delay without limit, whether the try failed or expired (with
   * a 2 s base the seventh try came 2 to 4 minutes after the sixth, the twentieth would come a day later), so a
   * retry due later than its queue's `maxRetryDelaySeconds` is brought forward to within it. Only failed tries are
   * in state `retry`: a deferral to a rate limit's reset is a new job, and keeps its time.
   */
  private async expireAndCapRetries(): Promise<void> {
    if (this.expiring) return;
    this.expiring = true;
    try {
      await this.boss.expire();
      const byCap = new Map<number, string[]>();
      for (const [name, policy] of this.policies) byCap.set(policy.maxRetryDelaySeconds, [...(byCap.get(policy.maxRetryDelaySeconds) ?? []), name]);
      for (const [cap, names] of byCap) {
        await this.boss.getDb().executeSql(
          `UPDATE pgboss.job SET start_after = now() + $2 * (0.5 + random() / 2) * interval '1 second'
            WHERE name = ANY($1) AND state = 'retry' AND start_after > now() + $2 * interval '1 second'`,
          [names, cap],
        );
      }
    } catch (error) {
      this.logger.error(`job queue: expiry check: ${(error as Error).message}`);
    } finally {
      this.expiring = false;
    }
  }

  private wake(name: string): void {
    for (const pool of this.pools.get(name) ?? []) pool.wake();
  }

  private async handle<T>(name: string, job: PgBoss.JobWithMetadata<T>, handler: JobHandler<T>): Promise<void | typeof JOB_COMPLETED> {
    const { [DEFERRED_SINCE]: deferredSince, ...data } = job.data as Record<string, unknown>;
    try {
      return await handler({ id: job.id, name, data: data as T, retryCount: job.retryCount, retryLimit: job.retryLimit });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const final = job.retryCount >= job.retryLimit;
      const retryAt = retryAtOf(error);
      if (retryAt && !final) {
        // Complete this attempt and schedule a fresh one at the known time. Waiting out a rate limit is not a failed
        // try, until the job has been put off for longer than any limit Pipedrive or DottedSign documents.
        const since = typeof deferredSince === 'string' ? Date.parse(deferredSince) : Date.now();
        const tryUsed = retryAt.getTime() - since > MAX_FREE_DEFERRAL_MS ? 1 : 0;
        this.logger.warn(`job ${name} ${job.id} deferred to ${retryAt.toISOString()}${tryUsed ? ` (try ${job.retryCount + 1}/${job.retryLimit + 1})` : ''}: ${message}`);
        await this.boss.send(name, { ...data, [DEFERRED_SINCE]: new Date(since).toISOString() }, {
          startAfter: retryAt,
          retryLimit: job.retryLimit - job.retryCount - tryUsed,
          retryDelay: job.retryDelay,
          retryBackoff: job.retryBackoff,
        });
        return;
      }
      this.logger.warn(`job ${name} ${job.id} failed (try ${job.retryCount + 1}/${job.retryLimit + 1}): ${message}`);
      await settleJob(job, () => this.boss.fail(name, job.id, { message, final }));
    }
  }
}
