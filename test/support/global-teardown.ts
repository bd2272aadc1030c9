import { rm } from 'node:fs/promises';
import type { EmbeddedDatabase } from '../../src/database/embedded-postgres.launcher';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __embeddedPostgres?: EmbeddedDatabase }).__embeddedPostgres;
  await server?.stop();
  if (process.env.TEST_SCRATCH_DIR) await rm(process.env.TEST_SCRATCH_DIR, { recursive: true, force: true });
}
