import { chmod, mkdtemp } from 'node:fs/promises';
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
  // Every directory the run's tests make goes in here (scratch-dir.ts); the teardown removes it. Embedded clusters in
  // it run as the `postgres` user when the tests run as root, so that user must be able to pass through.
  process.env.TEST_SCRATCH_DIR = await mkdtemp(join(tmpdir(), 'pdds-test-'));
  await chmod(process.env.TEST_SCRATCH_DIR, 0o755);
  if (process.env.DATABASE_URL) {
    process.env.TEST_SERVER_URL = process.env.DATABASE_URL;
    return;
  }
  const dataDir = await mkdtemp(join(process.env.TEST_SCRATCH_DIR, 'postgres-'));
  const server = await startEmbeddedPostgres({ dataDir, persistent: false });
  (globalThis as { __embeddedPostgres?: unknown }).__embeddedPostgres = server;
  process.env.TEST_SERVER_URL = server.adminUrl;
}
