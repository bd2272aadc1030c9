import { Pool } from 'pg';
import { NamedStatementClient } from '../../src/database/named-statements';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

describe('named statements (parsed once per connection)', () => {
  let database: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new Pool({ connectionString: database.url, max: 1, Client: NamedStatementClient });
    await pool.query('CREATE TABLE widgets (id int PRIMARY KEY, name text)');
    await pool.query(`INSERT INTO widgets VALUES (1, 'one'), (2, 'two')`);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  const preparedOnConnection = async () =>
    ((await pool.query('SELECT statement FROM pg_prepared_statements')).rows as Array<{ statement: string }>).map((row) => row.statement);

  it('prepares a parameterised statement once and reuses it with new values', async () => {
    const text = 'SELECT name FROM widgets WHERE id = $1';
    expect((await pool.query(text, [1])).rows).toEqual([{ name: 'one' }]);
    expect((await pool.query(text, [2])).rows).toEqual([{ name: 'two' }]);
    expect((await preparedOnConnection()).filter((statement) => statement === text)).toHaveLength(1);
  });

  it('leaves statements without parameters unnamed', async () => {
    await pool.query('SELECT count(*) FROM widgets');
    expect(await preparedOnConnection()).not.toContain('SELECT count(*) FROM widgets');
  });

  it('answers through callbacks too (pg-pool and pg-boss call it that way)', async () => {
    const client = await pool.connect();
    try {
      const rows = await new Promise((resolve, reject) =>
        client.query('SELECT id FROM widgets WHERE name = $1', ['two'], (error: Error | null, result: { rows: unknown[] }) => (error ? reject(error) : resolve(result.rows))),
      );
      expect(rows).toEqual([{ id: 2 }]);
    } finally {
      client.release();
    }
  });

  it('sends a statement unnamed once its columns changed under it, after one failure the caller retries', async () => {
    const text = 'SELECT * FROM widgets WHERE id = $1';
    expect((await pool.query(text, [1])).rows).toEqual([{ id: 1, name: 'one' }]);
    await pool.query('ALTER TABLE widgets ADD COLUMN colour text');
    await expect(pool.query(text, [1])).rejects.toMatchObject({ code: '0A000' });
    expect((await pool.query(text, [1])).rows).toEqual([{ id: 1, name: 'one', colour: null }]);
  });
});
