import type PgBoss from 'pg-boss';
import { JOB_COMPLETED, JobPool, settleJob } from './job-pool';

function jobStarted(secondsAgo: number, expireInSeconds: number): PgBoss.JobWithMetadata<unknown> {
  return { id: 'job-1', startedOn: new Date(Date.now() - secondsAgo * 1000), expireInSeconds } as PgBoss.JobWithMetadata<unknown>;
}

describe('settleJob', () => {
  it('keeps completing a job through a database outage until the database answers', async () => {
    let calls = 0;
    await settleJob(jobStarted(0, 60), async () => {
      calls += 1;
      if (calls < 3) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    });
    expect(calls).toBe(3);
  });

  it('gives up when the job would expire anyway, so pg-boss retries it', async () => {
    let calls = 0;
    const outage = new Error('connect ECONNREFUSED 127.0.0.1:5432');
    await expect(
      settleJob(jobStarted(119.5, 120), async () => {
        calls += 1;
        throw outage;
      }),
    ).rejects.toBe(outage);
    expect(calls).toBe(1);
  });
});

describe('JobPool', () => {
  /** A queue of `queued` jobs; every job runs until released by the test. */
  function fakeQueue(queued: number, onBacklog?: () => Promise<void>, pollMs = 50) {
    const batchSizes: number[] = [];
    const completed: string[] = [];
    const releases: Array<(result?: typeof JOB_COMPLETED) => void> = [];
    let next = 1;
    const boss = {
      fetch: async (_queue: string, { batchSize }: { batchSize: number }) => {
        batchSizes.push(batchSize);
        const count = Math.min(batchSize, queued);
        queued -= count;
        return Array.from({ length: count }, () => ({ id: `job-${next++}`, expireInSeconds: 60, startedOn: new Date() }));
      },
      complete: async (_queue: string, ids: string[]) => {
        completed.push(...ids);
      },
    } as unknown as PgBoss;
    const pool = new JobPool<unknown>({
      boss,
      queue: 'q',
      concurrency: 8,
      pollMs,
      run: () => new Promise<void | typeof JOB_COMPLETED>((resolve) => releases.push(resolve)),
      onBacklog,
      onError: (error) => {
        throw error;
      },
    });
    return { pool, batchSizes, completed, releases, enqueue: (count: number) => (queued += count) };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  /** Long enough that no idle poll falls within a test: each fetch it sees was asked for. */
  const IDLE_POLL_MS = 60_000;

  it('with a backlog, refills slots in batches of at least a quarter of the pool, not one by one, and reports the backlog once', async () => {
    let backlogNotices = 0;
    const { pool, batchSizes, releases } = fakeQueue(100, async () => void (backlogNotices += 1));
    pool.start();
    await settle();
    for (let index = 0; index < 8; index += 1) {
      releases.shift()!();
      await settle();
    }
    const stopped = pool.stop(1000);
    releases.forEach((release) => release());
    await stopped;
    expect(batchSizes).toEqual([8, 2, 2, 2, 2]);
    // Every fetch filled its slots; the statistics refresh it triggers is asked for once per quarter minute.
    expect(backlogNotices).toBe(1);
  });

  it('without a backlog, a job enqueued while slots are busy starts at once', async () => {
    const { pool, batchSizes, releases, enqueue } = fakeQueue(7);
    pool.start();
    await settle();
    expect(releases).toHaveLength(7);
    enqueue(1);
    pool.wake();
    await settle();
    expect(releases).toHaveLength(8);
    const stopped = pool.stop(1000);
    releases.forEach((release) => release());
    await stopped;
    expect(batchSizes).toEqual([8, 1]);
  });

  it('completes each finished job, except one whose run completed it in its own statement', async () => {
    const { pool, completed, releases } = fakeQueue(3);
    pool.start();
    await settle();
    releases[0]();
    releases[1](JOB_COMPLETED);
    releases[2]();
    await pool.stop(1000);
    expect(completed.sort()).toEqual(['job-1', 'job-3']);
  });

  it('runs jobs started in reserved slots without fetching them, and counts them against the pool', async () => {
    const { pool, batchSizes, completed, releases, enqueue } = fakeQueue(0, undefined, IDLE_POLL_MS);
    pool.start();
    await settle();
    expect(batchSizes).toEqual([8]);
    expect(pool.reserve(3)).toBe(3);
    pool.startReserved([jobStarted(0, 60), jobStarted(0, 60)].map((job, index) => ({ ...job, id: `started-${index}` })), 3);
    await settle();
    expect(releases).toHaveLength(2);
    // Six slots are left: a reservation takes what is free, and a fetch asks for what is free.
    expect(pool.reserve(10)).toBe(6);
    pool.startReserved([], 6);
    enqueue(20);
    pool.wake();
    await settle();
    expect(batchSizes).toEqual([8, 6]);
    expect(pool.reserve(1)).toBe(0);
    releases.splice(0, 2).forEach((release) => release());
    const stopped = pool.stop(1000);
    expect(pool.reserve(1)).toBe(0);
    releases.forEach((release) => release());
    await stopped;
    expect(completed).toEqual(expect.arrayContaining(['started-0', 'started-1']));
  });

  it('takes no slots while jobs wait in the queue, so new jobs do not overtake them', async () => {
    const { pool, batchSizes, releases, enqueue } = fakeQueue(0, undefined, IDLE_POLL_MS);
    pool.start();
    await settle();
    enqueue(3);
    pool.wake();
    expect(pool.reserve(1)).toBe(0);
    await settle();
    // The fetch took all three and found no more.
    expect(releases).toHaveLength(3);
    expect(pool.reserve(1)).toBe(1);
    pool.startReserved([], 1);
    // A backlog: every fetch fills its slots, and a slot that frees up goes to the queue, not to a reservation.
    enqueue(20);
    pool.wake();
    await settle();
    expect(releases).toHaveLength(8);
    releases.shift()!();
    await settle();
    // The slot is free, but the backlog waits for a quarter of the pool to free up, and the slot waits with it.
    expect(pool.reserve(1)).toBe(0);
    expect(batchSizes).toEqual([8, 8, 5]);
    const stopped = pool.stop(1000);
    releases.forEach((release) => release());
    await stopped;
  });

  it('waits when stopping for the jobs of a reservation whose statement commits after the stop began', async () => {
    const { pool, completed, releases } = fakeQueue(0, undefined, IDLE_POLL_MS);
    pool.start();
    await settle();
    expect(pool.reserve(1)).toBe(1);
    let stopped = false;
    const stopping = pool.stop(5000).then(() => (stopped = true));
    await settle();
    pool.startReserved([{ ...jobStarted(0, 60), id: 'late' }], 1);
    await settle();
    expect(stopped).toBe(false);
    releases.shift()!();
    await stopping;
    expect(completed).toEqual(['late']);
  });

  it('refuses more started jobs than reserved slots', async () => {
    const { pool } = fakeQueue(0, undefined, IDLE_POLL_MS);
    pool.start();
    await settle();
    expect(pool.reserve(1)).toBe(1);
    expect(() => pool.startReserved([jobStarted(0, 60), jobStarted(0, 60)], 1)).toThrow(/2 jobs started in 1 reserved slots/);
    // The slot is given back all the same.
    expect(pool.reserve(8)).toBe(8);
    pool.startReserved([], 8);
    await pool.stop(1000);
  });
});
