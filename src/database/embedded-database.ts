import { Client } from 'pg';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres.launcher';

/**
 * Starts the embedded server kept under dataDir and makes sure the database exists. `fresh` drops and
 * recreates it first (the sandbox: its simulators forget everything when the process ends, so must the app).
 */
export async function startAppDatabase(dataDir: string, options: { database?: string; fresh?: boolean } = {}): Promise<{ server: EmbeddedDatabase; url: string }> {
  const database = options.database ?? 'app';
  const server = await startEmbeddedPostgres({ dataDir, persistent: true });
  try {
    const client = new Client({ connectionString: server.adminUrl });
    await client.connect();
    if (options.fresh) await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    await client.end();
    if (!rowCount) await server.createDatabase(database);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { server, url: server.url(database) };
}
