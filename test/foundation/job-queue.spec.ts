import PgBoss from 'pg-boss';
import { DataSource } from 'typeorm';
import { TransactionRunner } from '../../src/database/transaction-runner';
import { InboxService } from '../../src/inbox/inbox.service';
import { JOB_COMPLETED, JobQueue, type StartedJobRow } from '../../src/jobs/job-queue.service';
import { RECONCILE } from '../../src/signing/reconciler.service';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { eventually, type TestApp, startTestApp } from '../support/test-app';

describe('job queue (pg-boss on the app database)', () => {
  let database: TestDatabase;
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    [first, second] = await Promise.all([startTestApp({ database }), startTestApp({ database })]);
    await first.app.get(DataSource).query('CREATE TABLE job_runs (queue text, job_key text, process text)');
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await database.drop();
  });

  const runsOf = async (queue: string) =>
    (await first.app.get(DataSource).query('SELECT job_key, process FROM job_runs WHERE queue = $1', [queue])) as Array<{
      job_key: string;
      process: string;
    }>;

  async function recordRuns(app: TestApp, name: string, queue: string) {
    const dataSource = app.app.get(DataSource);
    await app.app.get(JobQueue).work<{ key: string }>(queue, async (job) => {
      await dataSource.query('INSERT INTO job_runs VALUES ($1, $2, $3)', [queue, job.data.key, name]);
    });
  }

  it('never runs a job enqueued in a transaction that rolled back, and runs a committed one once', async () => {
    const jobs = first.app.get(JobQueue);
    await recordRuns(first, 'first', 'tx-test');
    const runner = first.app.get(TransactionRunner);

    await expect(
      runner.run(async (tx) => {
        await jobs.send('tx-test', { key: 'rolled-back' }, { tx });
        throw new Error('abort the unit of work');
      }),
    ).rejects.toThrow('abort the unit of work');
    await runner.run(async (tx) => {
      await jobs.send('tx-test', { key: 'committed' }, { tx });
    });

    await eventually(async () => (await runsOf('tx-test')).length === 1, 'committed job to run');
    await new Promise((resolve) => setTimeout(resolve, 1200)); // longer than a polling interval
    expect((await runsOf('tx-test')).map((run) => run.job_key)).toEqual(['committed']);
    const [{ count }] = await first.app
      .get(DataSource)
      .query(`SELECT count(*)::int AS count FROM pgboss.job WHERE name = 'tx-test' AND data->>'key' = 'rolled-back'`);
    expect(count).toBe(0);
  });

  it('retries a failing job with backoff, then leaves it failed with its last error', async () => {
    const jobs = first.app.get(JobQueue);
    await jobs.define('always-fails', { retryLimit: 2, retryDelaySeconds: 0 });
    let attempts = 0;
    await jobs.work('always-fails', async () => {
      attempts += 1;
      throw new Error(`remote answered 503 (attempt ${attempts})`);
    });
    const id = (await jobs.send('always-fails', { key: 'x' }))!;

    const failed = await eventually(async () => {
      const job = await jobs.get('always-fails', id);
      return job?.state === 'failed' ? job : undefined;
    }, 'job to end failed');
    expect(attempts).toBe(3);
    expect(failed.retryCount).toBe(2);
    expect(failed.output).toMatchObject({ message: 'remote answered 503 (attempt 3)', final: true });
  });

  it("brings a retry that pg-boss's doubling would put off for minutes forward to the queue's cap", async () => {
    const jobs = first.app.get(JobQueue);
    await jobs.define('capped-retries', { retryLimit: 5, retryDelaySeconds: 300, maxRetryDelaySeconds: 1 });
    let attempts = 0;
    await jobs.work('capped-retries', async () => {
      attempts += 1;
      throw new Error('remote answered 503');
    });
    const id = (await jobs.send('capped-retries', { key: 'x' }))!;

    // Uncapped, the second try would come 5 to 10 minutes after the first and the third 10 to 20 after that. The cap
    // is applied every 5 s.
    await eventually(async () => attempts >= 3, 'three tries', 30000);
    const [{ retry_count: retryCount }] = await first.app.get(DataSource).query('SELECT retry_count FROM pgboss.job WHERE id = $1', [id]);
    expect(retryCount).toBeGreaterThanOrEqual(2);
  });

  it('processes each job exactly once with two app instances working one database', async () => {
    await recordRuns(first, 'first', 'shared');
    await recordRuns(second, 'second', 'shared');
    const keys = Array.from({ length: 200 }, (_, i) => `job-${i}`);
    await Promise.all(keys.map((key, i) => (i % 2 ? first : second).app.get(JobQueue).send('shared', { key })));

    const runs = await eventually(async () => {
      const all = await runsOf('shared');
      return all.length >= keys.length ? all : undefined;
    }, 'all 200 jobs to run', 30000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const final = await runsOf('shared');
    expect(final).toHaveLength(keys.length);
    expect(new Set(final.map((run) => run.job_key)).size).toBe(keys.length);
    expect(new Set(runs.map((run) => run.process))).toEqual(new Set(['first', 'second']));
  });

  it('runs a job again soon after its expiry when the process that took it died, finding it through an index', async () => {
    const dataSource = first.app.get(DataSource);
    await first.app.get(JobQueue).define('expiry-test', { expireInSeconds: 2 });
    const [{ partition }] = (await dataSource.query(`SELECT partition_name AS partition FROM pgboss.queue WHERE name = 'expiry-test'`)) as Array<{ partition: string }>;
    // A process takes the job and is gone (SIGKILL): the job stays active, and nobody will complete it.
    const doomed = new PgBoss({ connectionString: database.url, schema: 'pgboss', supervise: false, schedule: false, migrate: false });
    await doomed.start();
    const jobId = (await doomed.send('expiry-test', { key: 'orphan' }))!;
    const [taken] = await doomed.fetch('expiry-test');
    expect(taken.id).toBe(jobId);
    await doomed.stop({ graceful: false, wait: true });

    await recordRuns(second, 'second', 'expiry-test');
    await eventually(async () => (await runsOf('expiry-test')).length === 1, 'the orphaned job to run again', 20_000);
    const retried = await second.app.get(JobQueue).get('expiry-test', jobId);
    expect(retried).toMatchObject({ retryCount: 1 });

    // The check reads the running jobs only, however many finished ones the table holds.
    await dataSource.query(`INSERT INTO pgboss.job (name, data, state, started_on, completed_on) SELECT 'expiry-test', '{}', 'completed', now(), now() FROM generate_series(1, 20000)`);
    await dataSource.query(`ANALYZE pgboss.${partition}`);
    const expireSql = (require('pg-boss/src/plans') as { failJobsByTimeout(schema: string): string }).failJobsByTimeout('pgboss');
    const plan = ((await dataSource.query(`EXPLAIN ${expireSql}`)) as Array<{ 'QUERY PLAN': string }>).map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).toMatch(new RegExp(`Index Scan using \\S+ on ${partition}`));
    expect(plan).not.toMatch(new RegExp(`Seq Scan on ${partition}`));
  });

  it('enqueues through insertJobsFrom as pg-boss itself does, with the queue\'s policy, and runs the job', async () => {
    const jobs = first.app.get(JobQueue);
    const dataSource = first.app.get(DataSource);
    await jobs.define('insert-test', { retryLimit: 3, retryDelaySeconds: 5, expireInSeconds: 42 });
    const insert = (queue: string, key: string) =>
      dataSource.query(`WITH source AS (SELECT jsonb_build_object('key', $2::text) AS data), jobs AS (${jobs.insertJobsFrom('source', '$1::text')}) SELECT 1`, [queue, key]);
    await insert('insert-test', 'ours');
    await jobs.send('insert-test', { key: 'theirs' });
    const rows = (await dataSource.query(
      `SELECT data->>'key' AS key, state, priority, retry_limit, retry_delay, retry_backoff, expire_in::text, policy, dead_letter, singleton_key,
              date_trunc('minute', keep_until - created_on)::text AS kept, start_after <= now() AS due
       FROM pgboss.job WHERE name = 'insert-test' ORDER BY key`,
    )) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(2);
    const [ours, theirs] = rows;
    expect(ours.key).toBe('ours');
    expect({ ...ours, key: undefined }).toEqual({ ...theirs, key: undefined });
    expect(ours).toMatchObject({ state: 'created', retry_limit: 3, retry_delay: 5, retry_backoff: true, expire_in: '00:00:42', kept: '14 days', due: true });

    await expect(insert('no-such-queue', 'lost')).rejects.toThrow(/partition/);

    await recordRuns(first, 'first', 'insert-test');
    jobs.enqueued('insert-test');
    await eventually(async () => (await runsOf('insert-test')).length === 2, 'both jobs to run');
  });

  it('runs jobs enqueued already started in the free slots of this process, the rest once fetched, and an abandoned started job after its expiry', async () => {
    const jobs = first.app.get(JobQueue);
    const dataSource = first.app.get(DataSource);
    await jobs.define('start-test', { retryLimit: 3, expireInSeconds: 2 });
    const release: Array<() => void> = [];
    const runs: Array<{ key: string; retryCount: number }> = [];
    await jobs.work<{ key: string }>('start-test', async (job) => {
      runs.push({ key: job.data.key, retryCount: job.retryCount });
      if (job.data.key !== 'abandoned') await new Promise<void>((resolve) => release.push(resolve));
    }, { concurrency: 2 });
    const insert = (keys: string[], start: number) =>
      dataSource.query(
        `WITH source AS (SELECT jsonb_build_object('key', k) AS data FROM unnest($2::text[]) k), jobs AS (${jobs.insertJobsFrom('source', '$1::text', '$3::int')})
         SELECT to_jsonb(jobs) AS job FROM jobs`,
        ['start-test', keys, start],
      ) as Promise<Array<{ job: StartedJobRow & { data: { key: string } } }>>;

    // The worker's first fetch (of an empty queue) holds its slots while it runs.
    const reservation = await eventually(async () => {
      const taken = jobs.reserve('start-test', 3);
      if (taken.slots) return taken;
      taken.start([]);
      return undefined;
    }, 'the worker to be idle');
    expect(reservation.slots).toBe(2);
    const rows = await insert(['a', 'b', 'c'], reservation.slots);
    const states = Object.fromEntries(rows.map(({ job }) => [job.data.key, job.state]));
    expect(Object.values(states).sort()).toEqual(['active', 'active', 'created']);
    reservation.start(rows.map((row) => row.job));
    jobs.enqueued('start-test');
    await eventually(async () => runs.length === 2, 'the started jobs to run');
    // Both slots are taken: the third job waits in the queue.
    expect(runs.map((run) => run.key).sort()).toEqual(Object.keys(states).filter((key) => states[key] === 'active').sort());
    const [{ waiting }] = (await dataSource.query(`SELECT count(*)::int AS waiting FROM pgboss.job WHERE name = 'start-test' AND state = 'created'`)) as Array<{ waiting: number }>;
    expect(waiting).toBe(1);
    release.splice(0).forEach((done) => done());
    await eventually(async () => runs.length === 3, 'the queued job to be fetched and run');
    release.splice(0).forEach((done) => done());

    // Started in the statement of a process killed before it ran it: nothing runs it until pg-boss's expiry hands it back.
    await insert(['abandoned'], 1);
    // Expiry after 2 s, checked every 5 s, then pg-boss's retry delay and a poll.
    await eventually(async () => runs.some((run) => run.key === 'abandoned'), 'the abandoned job to run after its expiry', 30_000);
    expect(runs.find((run) => run.key === 'abandoned')).toEqual({ key: 'abandoned', retryCount: 1 });
  });

  it('gives back the slots of inbox statements the database refuses, so later events still start with their insert', async () => {
    const inbox = first.app.get(InboxService);
    const dataSource = first.app.get(DataSource);
    // A company id beyond bigint fails the statement (a 400 to the sender); more of them than the worker has slots.
    for (let index = 0; index < 40; index += 1) {
      await expect(
        inbox.accept({ source: 'pipedrive', dedupeKey: `refused-${index}`, eventType: 'test:refused', companyId: '9'.repeat(20), payload: {} }),
      ).rejects.toMatchObject({ response: { error: { code: 'bad_request', message: expect.stringMatching(/cannot be stored/) } } });
    }
    await expect(inbox.accept({ source: 'pipedrive', dedupeKey: 'after-refusals', eventType: 'test:unhandled', companyId: null, payload: {} })).resolves.toBe('accepted');
    const [job] = (await dataSource.query(
      `SELECT j.started_on = j.created_on AS started_with_insert FROM pgboss.job j JOIN inbox_events i ON i.id = (j.data->>'inboxId')::bigint WHERE i.dedupe_key = 'after-refusals'`,
    )) as Array<{ started_with_insert: boolean }>;
    expect(job.started_with_insert).toBe(true);
    await eventually(
      async () => ((await dataSource.query(`SELECT status FROM inbox_events WHERE dedupe_key = 'after-refusals'`)) as Array<{ status: string }>)[0]?.status === 'ignored',
      'the event to be processed',
    );
  });

  it("fetches a backlog through an index in pg-boss's own order, with the queue's statistics refreshed, on queues created later too", async () => {
    const jobs = first.app.get(JobQueue);
    const dataSource = first.app.get(DataSource);
    await jobs.define('backlog-test');
    const [{ partition }] = (await dataSource.query(`SELECT partition_name AS partition FROM pgboss.queue WHERE name = 'backlog-test'`)) as Array<{ partition: string }>;
    await dataSource.query(`INSERT INTO pgboss.job (name, data) SELECT 'backlog-test', jsonb_build_object('n', g) FROM generate_series(1, 5000) g`);
    // A worker meeting the backlog has the statistics refreshed (autovacuum would take up to a minute).
    const done: number[] = [];
    await jobs.work<{ n: number }>('backlog-test', async (job) => void done.push(job.data.n), { concurrency: 8 });
    await eventually(async () => done.length === 5000, 'the backlog to be worked off', 30_000);
    const [{ analyzed }] = (await dataSource.query(`SELECT last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = $1`, [partition])) as Array<{
      analyzed: boolean;
    }>;
    expect(analyzed).toBe(true);

    await dataSource.query(`INSERT INTO pgboss.job (name, data, start_after) SELECT 'backlog-test', '{}', now() + interval '1 hour' FROM generate_series(1, 5000) g`);
    await dataSource.query(`ANALYZE pgboss.${partition}`);
    // pg-boss's own fetch statement, as its workers send it.
    const fetchSql = (require('pg-boss/src/plans') as { fetchNextJob(schema: string): (options: object) => string }).fetchNextJob('pgboss')({});
    const plan = ((await dataSource.query(`EXPLAIN ${fetchSql}`, ['backlog-test', 8])) as Array<{ 'QUERY PLAN': string }>).map((row) => row['QUERY PLAN']).join('\n');
    expect(plan).toMatch(new RegExp(`Index Scan using \\S+ on ${partition}`));
    expect(plan).not.toMatch(/Sort Key: job\.priority|Seq Scan/);
  });

  it('completes through completeJobs as pg-boss itself does, and only jobs that are running', async () => {
    const jobs = first.app.get(JobQueue);
    const dataSource = first.app.get(DataSource);
    await jobs.define('complete-test');
    const complete = (ids: string[]) =>
      dataSource.query(`WITH outcome AS (SELECT 1) ${jobs.completeJobs('$1::uuid[]', 'complete-test')}`, [ids]);
    const later = (await jobs.send('complete-test', { key: 'later' }, { startAfter: new Date(Date.now() + 3_600_000) }))!;
    await jobs.work<{ key: string }>('complete-test', async (job) => {
      if (job.data.key !== 'ours') return;
      await complete([job.id, later]);
      return JOB_COMPLETED;
    });
    await jobs.send('complete-test', { key: 'ours' });
    await jobs.send('complete-test', { key: 'theirs' });
    const states = async () =>
      (await dataSource.query(
        `SELECT data->>'key' AS key, state, output, retry_count, completed_on IS NOT NULL AS completed
         FROM pgboss.job WHERE name = 'complete-test' ORDER BY key`,
      )) as Array<Record<string, unknown>>;
    await eventually(async () => (await states()).filter((row) => row.state === 'completed').length === 2, 'both jobs to complete');
    const [notDue, ours, theirs] = await states();
    expect({ ...ours, key: undefined }).toEqual({ ...theirs, key: undefined });
    expect(ours).toMatchObject({ key: 'ours', state: 'completed', completed: true, retry_count: 0 });
    expect(notDue).toMatchObject({ key: 'later', state: 'created', completed: false });
    // It finds its jobs through an index of the queue's own table (its primary key, or the index of running jobs),
    // not by reading the table: three rows would be scanned, so sequential scans are off for the question.
    const runner = dataSource.createQueryRunner();
    let plan: string;
    try {
      await runner.startTransaction();
      await runner.query('SET LOCAL enable_seqscan = off');
      const rows = (await runner.query(`EXPLAIN WITH outcome AS (SELECT 1) ${jobs.completeJobs('$1::uuid[]', 'complete-test')}`, [[later]])) as Array<{ 'QUERY PLAN': string }>;
      plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
    expect(plan).toMatch(/Update on j[0-9a-f]+/);
    expect(plan).toMatch(/Index (Only )?Scan using \S+ on j[0-9a-f]+/);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it("turns the app's schedules into jobs only in a process told to run periodic jobs", async () => {
    const dataSource = first.app.get(DataSource);
    const cronRan = async () => ((await dataSource.query('SELECT cron_on FROM pgboss.version')) as Array<{ cron_on: Date | null }>)[0].cron_on !== null;
    // This file's two processes run none, as tests do by default; the schedules are recorded all the same.
    expect(await dataSource.query('SELECT cron FROM pgboss.schedule WHERE name = $1', [RECONCILE])).toEqual([{ cron: '*/5 * * * *' }]);
    expect(await cronRan()).toBe(false);
    const scheduler = await startTestApp({ database, env: { RUN_PERIODIC_JOBS: 'true' } });
    try {
      await eventually(cronRan, "pg-boss's cron monitor to run in the process told to");
    } finally {
      await scheduler.close();
    }
  });
});
