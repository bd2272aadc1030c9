import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { freeLoopbackPort } from '../../src/database/embedded-postgres.launcher';
import { type AppProcess, ROOT, postgresRunningIn, startAppProcess as startMain } from '../support/app-process';
import { scratchDir } from '../support/scratch-dir';
import { eventually } from '../support/test-app';
import { createTestDatabase } from '../support/test-database';

const DEVELOPMENT_CREDENTIALS = { PIPEDRIVE_CLIENT_ID: 'dev-id', PIPEDRIVE_CLIENT_SECRET: 'dev-secret', DOTTEDSIGN_CLIENT_ID: 'ds-id', DOTTEDSIGN_CLIENT_SECRET: 'ds-secret' };

/** The embedded database's URL as the app logs it (without its password), with the cluster's fixed loopback password. */
async function readyUrl(started: AppProcess, port: number): Promise<string> {
  await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 'app to be ready', 45000);
  const logged = new URL(started.output().match(/embedded PostgreSQL started: (\S+)/)![1]);
  expect(logged.password).toBe('');
  logged.password = 'postgres';
  return logged.toString();
}

describe('the app process (npm start)', () => {
  it('is started by npm with node flags this Node accepts (heap limits, baseline-only WebAssembly)', () => {
    const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const flags = start.split(/\s+/).filter((word) => word.startsWith('--'));
    expect(flags).toEqual(expect.arrayContaining(['--max-old-space-size=128', '--liftoff-only']));
    // An unknown flag makes node exit with "bad option" before running anything.
    expect(execFileSync(process.execPath, [...flags, '-e', 'process.stdout.write("ran")'], { encoding: 'utf8' })).toBe('ran');
  });

  it('refuses to start in production without configuration, listing every missing variable', async () => {
    const started = startMain({ NODE_ENV: 'production' });
    expect(await started.exited).toBe(1);
    for (const name of ['APP_URL', 'DATABASE_URL', 'ENCRYPTION_KEY', 'PIPEDRIVE_CLIENT_ID', 'PIPEDRIVE_CLIENT_SECRET', 'DOTTEDSIGN_CLIENT_ID']) {
      expect(started.output()).toContain(name);
    }
  });

  it('keeps its data across restarts and leaves no postgres behind on SIGTERM or Ctrl-C', async () => {
    const dataDir = scratchDir('data');
    const port = await freeLoopbackPort();
    // With credentials (not sandbox mode, whose database starts empty on purpose every time).
    const env = { DATA_DIR: dataDir, PORT: String(port), ...DEVELOPMENT_CREDENTIALS };

    const first = startMain(env);
    const firstUrl = await readyUrl(first, port);
    expect(first.output()).toContain('ENCRYPTION_KEY is not set: stored tokens are sealed with a key generated in');
    const client = new Client({ connectionString: firstUrl });
    await client.connect();
    await client.query(`CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')`);
    await client.end();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(postgresRunningIn(dataDir)).toBe(false);

    const second = startMain(env);
    const secondUrl = await readyUrl(second, port);
    const again = new Client({ connectionString: secondUrl });
    await again.connect();
    const { rows } = await again.query('SELECT note FROM kept');
    await again.end();
    expect(rows).toEqual([{ note: 'still here' }]);
    second.interrupt();
    await second.exited;
    await eventually(async () => !postgresRunningIn(dataDir), 'postgres to stop after Ctrl-C', 10000);
  }, 150_000); // two boots of up to 45 s each, and their stops

  it('logs each request once under the id it answered with, credentials redacted, health checks left out, refused webhooks as warnings', async () => {
    const database = await createTestDatabase();
    const port = await freeLoopbackPort();
    const started = startMain({ NODE_ENV: 'test', DATABASE_URL: database.url, DATA_DIR: scratchDir('data'), PORT: String(port), ...DEVELOPMENT_CREDENTIALS });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 'app to be ready', 45000);
      await fetch(`http://127.0.0.1:${port}/healthz`);
      const answer = await fetch(`http://127.0.0.1:${port}/panel?token=secret-panel-jwt`, { headers: { 'x-request-id': 'trace-log-1' } });
      expect(answer.headers.get('x-request-id')).toBe('trace-log-1');
      const line = await eventually(async () => started.output().split('\n').find((text) => text.includes('"id":"trace-log-1"')), 'the request log line');
      expect(JSON.parse(line)).toMatchObject({ req: { id: 'trace-log-1', method: 'GET', url: '/panel?token=[redacted]' }, res: { statusCode: 401 } });
      expect(started.output()).not.toContain('secret-panel-jwt');
      expect(started.output()).not.toMatch(/"url":"\/(healthz|readyz)"/);

      // Webhooks are out of the request log (the inbox records each accepted one); a refused one is one warning.
      const refused = await fetch(`http://127.0.0.1:${port}/webhooks/pipedrive`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('nobody:guessed-password').toString('base64')}`, 'x-request-id': 'trace-log-2' },
        body: '{}',
      });
      expect(refused.status).toBe(401);
      const warning = await eventually(async () => started.output().split('\n').find((text) => text.includes('"id":"trace-log-2"')), 'the refused webhook warning');
      expect(JSON.parse(warning)).toMatchObject({ level: 40, req: { id: 'trace-log-2', method: 'POST', url: '/webhooks/pipedrive' }, res: { statusCode: 401 }, msg: 'webhook refused: Invalid webhook credentials' });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(started.output().split('\n').filter((text) => text.includes('"id":"trace-log-2"'))).toHaveLength(1);
      expect(started.output()).not.toContain('guessed-password');
    } finally {
      started.child.kill('SIGTERM');
      await started.exited;
      await database.drop();
    }
  });

  it('stops its embedded postgres when the start fails', async () => {
    const dataDir = scratchDir('data');
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, () => done()));
    const port = (blocker.address() as { port: number }).port;
    const started = startMain({ DATA_DIR: dataDir, PORT: String(port), ...DEVELOPMENT_CREDENTIALS });
    expect(await started.exited).toBe(1);
    blocker.close();
    expect(started.output()).toMatch(/start failed/);
    expect(postgresRunningIn(dataDir)).toBe(false);
  });
});
