import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { createApp } from '../../src/app.factory';
import { type AppConfig, type RawEnv, parseConfig } from '../../src/config/app-config';
import { scratchDir } from './scratch-dir';
import { type TestDatabase, createTestDatabase } from './test-database';

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  config: AppConfig;
  database: TestDatabase;
  close(): Promise<void>;
}

const sharedKey = randomBytes(32).toString('base64');

/**
 * A loopback port kept listening until the app takes it. A port found free and let go could be taken before the app
 * listens (a simulator's free port, or the local port of one of the many connections the app's boot opens).
 */
export interface HeldPort {
  port: number;
  release(): Promise<void>;
}

export async function holdLoopbackPort(port = 0): Promise<HeldPort> {
  // A connection meanwhile (a simulator's delivery to an app restarting on the port) is cut, as a refused one fails.
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  let released: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    release: () => (released ??= new Promise((resolve) => server.close(() => resolve()))),
  };
}

/**
 * Boots the real app on a real PostgreSQL database (a fresh one unless `database` is given, so two
 * instances can share one) and listens on loopback, on `port` once booted or on a port of its own.
 * Periodic jobs run only when a test sends them.
 */
export async function startTestApp(options: { env?: RawEnv; database?: TestDatabase; port?: HeldPort } = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const held = options.port ?? (await holdLoopbackPort());
  const { port } = held;
  const ownsDatabase = !options.database;
  let app: NestFastifyApplication | undefined;
  try {
    const config = {
      ...parseConfig({
        NODE_ENV: 'test',
        PORT: String(port),
        APP_URL: `http://127.0.0.1:${port}`,
        DATA_DIR: scratchDir('app'),
        ENCRYPTION_KEY: sharedKey,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        // The clock's 5-minute reconciliation would read deals and settle contracts in the middle of a test.
        RUN_PERIODIC_JOBS: 'false',
        ...options.env,
      }),
      databaseUrl: database.url,
    };
    app = await createApp(config);
    await held.release();
    await app.listen(port, '127.0.0.1');
    const started = app;
    return {
      app: started,
      url: config.appUrl,
      config,
      database,
      close: async () => {
        await started.close();
        if (ownsDatabase) await database.drop();
      },
    };
  } catch (error) {
    // A half-started app would keep its pools and job loops running, and Jest would never exit.
    await held.release();
    await app?.close().catch(() => undefined);
    if (ownsDatabase) await database.drop().catch(() => undefined);
    throw error;
  }
}

/** Polls until `check` returns a truthy value, or fails with `message` after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, message: string, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
