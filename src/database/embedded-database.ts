import { Client } from 'pg';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres.launcher';

const DATABASE = 'app';

/** Starts the embedded server kept under dataDir and makes sure the app's database exists. */
export async function startAppDatabase(dataDir: string): Promise<{ server: EmbeddedDatabase; url: string }> {
  const server = await startEmbeddedPostgres({ dataDir, persistent: true });
  try {
    const client = new Client({ connectionString: server.adminUrl });
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    await client.end();
    if (!rowCount) await server.createDatabase(DATABASE);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { server, url: server.url(DATABASE) };
}
