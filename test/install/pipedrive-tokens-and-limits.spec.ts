import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { InstallationRevokedError, PipedriveRateLimitedError } from '../../src/pipedrive/pipedrive.errors';
import { PipedriveTokens } from '../../src/pipedrive/pipedrive-tokens.service';
import { JobQueue } from '../../src/jobs/job-queue.service';
import { ENSURE_WEBHOOKS } from '../../src/pipedrive/pipedrive.jobs';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { type TestApp, eventually, startTestApp } from '../support/test-app';

interface Logged {
  at: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: Record<string, string>;
}

describe('Pipedrive API client: token refresh and rate limits (two app processes, Pipedrive simulator)', () => {
  let s: Sandbox;
  let second: TestApp;
  let installationId: string;

  const requests = async (path: string) => (await (await s.sim(`/requests?path=${encodeURIComponent(path)}`)).json()) as Logged[];
  const api = (app: TestApp) => app.app.get(PipedriveTokens).apiFor({ id: installationId });

  beforeAll(async () => {
    s = await startSandbox({ pipedrive: { rateLimit: { burstPer2s: 6 } } });
    await s.install(s.pipedrive.demo.adminUserId);
    second = await startTestApp({ database: s.app.database, env: s.appEnv });
    [{ id: installationId }] = await s.app.app.get(DataSource).query('SELECT id FROM installations');
  });
  afterAll(async () => {
    await second?.close();
    await s?.close();
  });

  it('20 concurrent calls with an expired token over two processes cause exactly one refresh, and all succeed', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100)); // a fresh burst window
    await s.sim('/tokens/expire', { body: {} });
    await s.sim('/requests', { method: 'DELETE' });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => api(i % 2 ? s.app : second).me()));
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(results.every((result) => result.status === 'fulfilled' && result.value.id === s.pipedrive.demo.adminUserId)).toBe(true);
    const refreshes = (await requests('/oauth/token')).filter((request) => request.body.grant_type === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0].status).toBe(200);
  });

  it('a refresh refused for the app’s client secret (rotated in Developer Hub) keeps the installation: it works again once the secret matches, with no reinstall', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100)); // a fresh burst window
    const secret = s.appEnv.PIPEDRIVE_CLIENT_SECRET;
    await s.sim('/app', { method: 'PATCH', body: { clientSecret: 'regenerated-in-developer-hub' } });
    await s.sim('/tokens/expire', { body: {} });
    await expect(api(s.app).me()).rejects.toThrow(/invalid_client|client/i);
    const [row] = await s.app.app.get(DataSource).query('SELECT invalid_reason FROM installations WHERE id = $1', [installationId]);
    expect(row.invalid_reason).toBeNull();

    // The deployment gets the secret it should have (here: the app's secret is current again).
    await s.sim('/app', { method: 'PATCH', body: { clientSecret: secret } });
    expect((await api(s.app).me()).id).toBe(s.pipedrive.demo.adminUserId);
  });

  it('a refresh refused while the user reinstalls leaves the new install working, not marked invalid', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100)); // a fresh burst window
    await s.sim('/tokens/expire', { body: {} });
    // The old refresh token is refused, slowly: the user's reinstall stores new tokens meanwhile (it waits for the row).
    await s.sim('/faults', {
      body: { method: 'POST', path: '/oauth/token', status: 400, count: 1, latencyMs: 1500, body: { success: false, error: 'invalid_grant', error_description: 'Invalid grant: refresh_token is invalid' } },
    });
    const refused = api(s.app).me().catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await s.install(s.pipedrive.demo.adminUserId);
    expect(await refused).toBeInstanceOf(InstallationRevokedError);

    const [row] = await s.app.app.get(DataSource).query('SELECT invalid_reason FROM installations WHERE id = $1', [installationId]);
    expect(row.invalid_reason).toBeNull();
    expect((await api(second).me()).id).toBe(s.pipedrive.demo.adminUserId);
  });

  it('waits out the burst window on 429 instead of hammering, and loses no call', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await s.sim('/requests', { method: 'DELETE' });
    const results = await Promise.allSettled(Array.from({ length: 14 }, () => api(s.app).me()));
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    const calls = await requests('/c/*');
    const meCalls = calls.filter((call) => call.path.endsWith('/api/v1/users/me'));
    const limited = meCalls.filter((call) => call.status === 429);
    expect(meCalls.filter((call) => call.status === 200)).toHaveLength(14);
    // After a 429 the client waits for the window instead of retrying at once: few 429s, not a storm.
    expect(limited.length).toBeLessThanOrEqual(14);
    expect(meCalls.length).toBeLessThan(30);
  });

  it('reads a rate-limit reset that can only be a Unix time as one: the call waits until then and succeeds', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const me = `/c/${s.pipedrive.demo.companyId}/api/v1/users/me`;
    const limited = (reset: string) => s.sim('/faults', { body: { method: 'GET', path: me, status: 429, count: 1, headers: { 'x-ratelimit-reset': reset }, body: { success: false, error: 'Rate limit exceeded' } } });

    // Six seconds away, as Unix seconds and then milliseconds: longer than the first strikes' own waits (1 and 2 s) or
    // the 2 s of an unreadable header, and far shorter than the same number read as a count of seconds.
    for (const resetAt of [() => String(Math.round(Date.now() / 1000) + 6), () => String(Date.now() + 6_000)]) {
      await limited(resetAt());
      const started = Date.now();
      await expect(api(s.app).me()).resolves.toMatchObject({ id: expect.any(Number) });
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(5_000);
      expect(waited).toBeLessThan(15_000);
    }
  });

  it('while the company budget is spent, waits longer after each 429 in a row and defers jobs without using their retries', async () => {
    // The reinstall's webhook set-up (which reads /users/me) may still be waiting out an earlier test's 429s; here it
    // would add its own refused calls to the ones counted.
    const db = s.app.app.get(DataSource);
    const pending = async () =>
      ((await db.query(`SELECT count(*)::int AS count FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`, [ENSURE_WEBHOOKS])) as Array<{ count: number }>)[0].count;
    await eventually(async () => (await pending()) === 0, 'earlier webhook set-ups to finish', 30_000);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const companyId = s.pipedrive.demo.companyId;
    await s.sim(`/rate-limits/${companyId}`, { method: 'PUT', body: { remaining: 0 } });
    await s.sim('/requests', { method: 'DELETE' });
    const meCalls = async () => (await requests('/c/*')).filter((call) => call.path.endsWith('/users/me'));
    const refusal = async () => {
      const error = await api(s.app).me().catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(PipedriveRateLimitedError);
      return (error as PipedriveRateLimitedError).retryAt.getTime() - Date.now();
    };

    // Each 429 says what the burst window says (a reset of 1 or 2 s, as the app's own background calls have used the
    // window), yet each one in a row waits longer: at least 1, 2 and 4 s in the process, then the call is handed back
    // with 8 s to wait. A spent budget is not hammered.
    const wait = await refusal();
    expect(wait).toBeGreaterThan(6_000);
    const calls = await meCalls();
    // Once seen with six: each call's time and token tell the test's own from another caller's.
    if (calls.length !== 4) console.warn('refused /users/me calls', calls.map(({ at, status, headers }) => ({ at, status, token: String(headers.authorization).slice(-6) })));
    expect(calls.map((call) => call.status)).toEqual([429, 429, 429, 429]);
    const gaps = calls.slice(1).map((call, index) => Date.parse(call.at) - Date.parse(calls[index].at));
    expect(gaps[0]).toBeGreaterThanOrEqual(950);
    expect(gaps[1]).toBeGreaterThanOrEqual(1_950);
    expect(gaps[2]).toBeGreaterThanOrEqual(3_950);

    // The probe tells this job's deferred copy from others deferred meanwhile (the 30-minute webhook check's, say).
    const probe = randomUUID();
    const jobId = await s.app.app.get(JobQueue).send(ENSURE_WEBHOOKS, { companyId: String(companyId), probe });
    const [{ retry_limit: retryLimit }] = await db.query('SELECT retry_limit FROM pgboss.job WHERE id = $1', [jobId]);
    const deferred = await eventually(async () => {
      const rows = await db.query(
        `SELECT id, state, retry_limit, start_after > now() AS later FROM pgboss.job WHERE name = $1 AND data ? '_deferredSince' AND data->>'probe' = $2`,
        [ENSURE_WEBHOOKS, probe],
      );
      return rows.length ? rows : undefined;
    }, 'the job to be deferred', 25_000);
    expect(deferred).toEqual([expect.objectContaining({ state: 'created', retry_limit: retryLimit, later: true })]);
    // The deferred copy commits before the original is marked completed.
    await eventually(async () => (await db.query('SELECT state FROM pgboss.job WHERE id = $1', [jobId]))[0].state === 'completed', 'the original job completed');

    // Once the budget is back the deferred job runs and succeeds.
    await s.sim('/rate-limits/reset', { body: { companyId } });
    await eventually(async () => {
      const [row] = await db.query('SELECT state FROM pgboss.job WHERE id = $1', [deferred[0].id]);
      return row.state === 'completed';
    }, 'the deferred job to complete', 45_000);
  });
});
