import type { EmbeddedDatabase } from '../../src/database/embedded-postgres.launcher';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __embeddedPostgres?: EmbeddedDatabase }).__embeddedPostgres;
  await server?.stop();
}
