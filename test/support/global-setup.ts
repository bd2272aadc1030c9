import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.launcher';
import { ensureClientBuilt } from './client-build';

/**
 * One PostgreSQL server for the whole run: the one in DATABASE_URL when set, otherwise a throw-away
 * embedded cluster. Each test file then creates its own database on it (test/support/test-database.ts).
 */
export default async function globalSetup(): Promise<void> {
  // The app serves the built panel and settings pages (client/dist); a clean clone has none yet.
  ensureClientBuilt();
  if (process.env.DATABASE_URL) {
    process.env.TEST_SERVER_URL = process.env.DATABASE_URL;
    return;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'pdds-test-'));
  const server = await startEmbeddedPostgres({ dataDir, persistent: false });
  (globalThis as { __embeddedPostgres?: unknown }).__embeddedPostgres = server;
  process.env.TEST_SERVER_URL = server.adminUrl;
}
