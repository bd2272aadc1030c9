import { Client } from 'pg';
import { createTestDatabase } from './test-database';

describe('test database', () => {
  it('creates an isolated database and drops it', async () => {
    const db = await createTestDatabase();
    const client = new Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query('select current_database() as name, version() as version');
    await client.end();
    expect(rows[0].name).toMatch(/^t_/);
    await db.drop();
  });
});
