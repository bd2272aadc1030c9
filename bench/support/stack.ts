import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import { request } from 'undici';
import { createApp } from '../../src/app.factory';
import { parseConfig } from '../../src/config/app-config';
import { setUpDemoCompany } from '../../src/sandbox/demo-setup';
import { freeLoopbackPort } from '../../src/database/embedded-postgres.launcher';
import type { DottedSignSimulatorOptions } from '../../src/sandbox/dottedsign/dottedsign.simulator';
import type { PipedriveSimulatorOptions } from '../../src/sandbox/pipedrive/pipedrive.simulator';
import { type SimulatedWorld, startSimulatedWorld } from '../../src/sandbox/simulated-world';
import { AppProcess, appEntry, cpuMsOf } from './app-process';

export interface StackOptions {
  databaseUrl: string;
  /** Child processes of `src/main.ts` (measurable, killable) or one in-process Nest app (for direct service calls). */
  mode: 'processes' | 'in-process';
  processes?: number;
  pipedrive?: Partial<PipedriveSimulatorOptions>;
  dottedsign?: Partial<DottedSignSimulatorOptions>;
  env?: Record<string, string>;
}

/** Limits high enough that the simulators answer at once: benchmarks measure the app, not a vendor's quota. */
export const UNTHROTTLED = {
  pipedrive: { rateLimit: { burstPer2s: 1_000_000, dailyBudget: 100_000_000 } },
  dottedsign: { rateLimit: { requests: 1_000_000, windowMs: 60_000 } },
};

/**
 * Both simulators and the app (one or more processes on one database), wired over loopback, with the demo
 * company installed and its DottedSign account connected, as a Pipedrive admin would do it.
 */
export class Stack {
  readonly apps: AppProcess[] = [];
  inProcess: NestFastifyApplication | undefined;
  db!: Client;
  private databaseUrl = '';
  templateId = 0;
  /** The apps' DATA_DIRs, removed by `close`. */
  private readonly dataDirs: string[] = [];

  private constructor(
    readonly world: SimulatedWorld,
    readonly appUrls: string[],
    /** The apps' ENCRYPTION_KEY: fixtures written straight into the database seal tokens with it. */
    readonly encryptionKey: Buffer,
  ) {}

  get url(): string {
    return this.appUrls[0];
  }

  get pipedrive() {
    return this.world.pipedrive;
  }

  get dottedsign() {
    return this.world.dottedsign;
  }

  get demo() {
    return this.pipedrive.demo;
  }

  static async start(options: StackOptions): Promise<Stack> {
    const count = options.mode === 'in-process' ? 1 : (options.processes ?? 1);
    // Compiled before the ports are picked: a free port left unbound for the seconds of a build can be taken by
    // another socket meanwhile (seen once: EADDRINUSE at the app's start).
    if (options.mode !== 'in-process') appEntry();
    const ports = await Promise.all(Array.from({ length: count }, () => freeLoopbackPort()));
    const urls = ports.map((port) => `http://127.0.0.1:${port}`);
    const world = await startSimulatedWorld({
      appUrl: urls[0],
      // Runs are bounded, and the drills read back every request and webhook attempt of theirs.
      pipedrive: { timeScale: 0.001, logLimit: Number.POSITIVE_INFINITY, ...options.pipedrive },
      dottedsign: { timeScale: 0.001, logLimit: Number.POSITIVE_INFINITY, ...options.dottedsign },
    });
    const encryptionKey = randomBytes(32);
    const stack = new Stack(world, urls, encryptionKey);
    const envFor = (port: number): Record<string, string> => ({
      NODE_ENV: 'test',
      PORT: String(port),
      APP_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: stack.dataDir(),
      DATABASE_URL: options.databaseUrl,
      ENCRYPTION_KEY: encryptionKey.toString('base64'),
      // App processes log as .env.example has them (an access line per panel request; to /dev/null here), so the
      // figures include logging; an app in the bench process logs only warnings, which would go to its output.
      LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? (options.mode === 'in-process' ? 'warn' : 'info'),
      ...world.appEnv,
      ...options.env,
    });
    if (options.mode === 'in-process') {
      const config = { ...parseConfig(envFor(ports[0])), databaseUrl: options.databaseUrl };
      stack.inProcess = await createApp(config);
      await stack.inProcess.listen(ports[0], '127.0.0.1');
    } else {
      for (const port of ports) stack.apps.push(new AppProcess(`http://127.0.0.1:${port}`, envFor(port)));
      // One after the other: the first runs the migrations, the rest find them done.
      for (const app of stack.apps) await app.start();
    }
    stack.databaseUrl = options.databaseUrl;
    await stack.reconnectDb();
    return stack;
  }

  /** A fresh observer connection, e.g. after the database server was restarted under it. */
  async reconnectDb(): Promise<void> {
    await this.db?.end().catch(() => undefined);
    this.db = new Client({ connectionString: this.databaseUrl });
    // A server stopping under the drill ends this connection; the drill reconnects afterwards.
    this.db.on('error', () => undefined);
    await this.db.connect();
  }

  panelToken(companyId: number, userId: number): string {
    return this.world.panelToken(companyId, userId, 3600);
  }

  async api(path: string, init: { method?: string; body?: unknown } = {}, appUrl = this.url): Promise<Response> {
    return fetch(`${appUrl}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        authorization: `Bearer ${this.panelToken(this.demo.companyId, this.demo.adminUserId)}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  }

  async sim(path: string, body?: unknown, method?: string): Promise<ControlAnswer> {
    return controlCall(`${this.pipedrive.url}/_sim${path}`, body, method);
  }

  async dsim(path: string, body?: unknown, method?: string): Promise<ControlAnswer> {
    return controlCall(`${this.dottedsign.url}/_sim${path}`, body, method);
  }

  /** The demo admin installs through OAuth, connects the DottedSign app account and saves settings. */
  async installAndConnect(settings: Record<string, unknown> = {}): Promise<void> {
    const { adminUserId, companyId } = this.demo;
    ({ templateId: this.templateId } = await setUpDemoCompany({ appUrl: this.url, userId: adminUserId, token: this.panelToken(companyId, adminUserId), settings }));
    await this.until(async () => (await this.count('SELECT count(*) FROM webhook_subscriptions')) === 2, 'deal webhooks registered', 30_000);
    await this.dsim(`/accounts/${encodeURIComponent(this.dottedsign.ownerAccount)}`, { quota: 10_000_000 }, 'PATCH');
  }

  /** The Basic credentials Pipedrive sends with this company's deal `create` deliveries. */
  webhookAuthorization(action: 'create' | 'delete'): string {
    const hook = this.pipedrive.webhookSubscriptions(this.demo.companyId).find((webhook) => webhook.eventAction === action);
    if (!hook?.httpAuthUser || !hook.httpAuthPassword) throw new Error(`no ${action} webhook with credentials`);
    return `Basic ${Buffer.from(`${hook.httpAuthUser}:${hook.httpAuthPassword}`).toString('base64')}`;
  }

  /** CPU used so far by each PostgreSQL backend on the run's database, by pid (from /proc); this observer connection is left out. */
  async databaseCpuMs(): Promise<Map<number, number>> {
    const { rows } = await this.db.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    return new Map((rows as Array<{ pid: number }>).map(({ pid }) => [pid, cpuMsOf(pid)]));
  }

  /** The backends' CPU in ms since `before` (a `databaseCpuMs` reading); backends that exited meanwhile are missed (busy pools keep theirs). */
  async databaseCpuMsSince(before: Map<number, number>): Promise<number> {
    return [...(await this.databaseCpuMs())].reduce((sum, [pid, ms]) => sum + ms - (before.get(pid) ?? 0), 0);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.db.query(sql, params)).rows as T[];
  }

  async count(sql: string, params: unknown[] = []): Promise<number> {
    const [row] = await this.query<object>(sql, params);
    return Number(Object.values(row)[0]);
  }

  async until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.apps.map((app) => app.stop()));
    await this.inProcess?.close();
    await this.db?.end().catch(() => undefined);
    await this.world.close();
    await Promise.all(this.dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }

  private dataDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'pdds-bench-app-'));
    this.dataDirs.push(dir);
    return dir;
  }
}

/** A simulator control route's answer, read whole (they are small). */
export interface ControlAnswer {
  status: number;
  ok: boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/**
 * Through undici's `request` rather than `fetch`: the end-to-end bench makes two control calls per deal from the
 * process the simulators answer in, and `fetch`'s web streams cost that process about as much CPU as a simulator's
 * whole answer (see docs/performance.md, 12-05c).
 */
async function controlCall(url: string, body?: unknown, method?: string): Promise<ControlAnswer> {
  const answer = await request(url, {
    method: (method ?? (body === undefined ? 'GET' : 'POST')) as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await answer.body.text();
  const ok = answer.statusCode >= 200 && answer.statusCode < 300;
  return { status: answer.statusCode, ok, text: async () => text, json: async () => JSON.parse(text) as unknown };
}
