import type PgBoss from 'pg-boss';
import { settleJob } from './job-pool';

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
