import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { createApp } from '../../src/app.factory';
import { type AppConfig, type RawEnv, parseConfig } from '../../src/config/app-config';
import { freeLoopbackPort } from '../../src/database/embedded-postgres.launcher';
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
 * Boots the real app on a real PostgreSQL database (a fresh one unless `database` is given, so two
 * instances can share one) and listens on a free loopback port. Periodic jobs run only when a test sends them.
 */
export async function startTestApp(options: { env?: RawEnv; database?: TestDatabase; port?: number } = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase());
  const port = options.port ?? (await freeLoopbackPort());
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
  const app = await createApp(config);
  await app.listen(port, '127.0.0.1');
  const ownsDatabase = !options.database;
  return {
    app,
    url: config.appUrl,
    config,
    database,
    close: async () => {
      await app.close();
      if (ownsDatabase) await database.drop();
    },
  };
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
