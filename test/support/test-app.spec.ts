import { createServer } from 'node:net';
import { Client } from 'pg';
import { eventually, startTestApp } from './test-app';
import { createTestDatabase } from './test-database';

describe('test app', () => {
  it('a start that cannot listen fails with the reason and leaves no app running on its database', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const database = await createTestDatabase();
    const client = new Client({ connectionString: database.url });
    try {
      const port = (blocker.address() as { port: number }).port;
      await expect(startTestApp({ database, port: { port, release: async () => undefined } })).rejects.toThrow(/EADDRINUSE/);
      await client.connect();
      // The app's pool and pg-boss's were open before the listen failed; they are closed, so Jest can exit.
      const others = async () =>
        ((await client.query('SELECT count(*)::int AS count FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows[0] as { count: number })
          .count;
      await eventually(async () => (await others()) === 0, 'the failed app to close its connections');
    } finally {
      await client.end().catch(() => undefined);
      await new Promise((resolve) => blocker.close(resolve));
      await database.drop();
    }
  });
});
