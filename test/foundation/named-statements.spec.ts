import { Pool } from 'pg';
import { arrayParam, arrayParams } from '../../src/database/array-param';
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

  describe('array parameters of batched statements', () => {
    const plans = async (text: string) =>
      ((await pool.query('SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1', [text])).rows as Array<{ generic_plans: string; custom_plans: string }>)[0];
    const names = async (ids: number[]) => {
      const param = arrayParam(1, 'int', ids);
      const text = `SELECT name FROM widgets WHERE id = ANY(${param.sql}) ORDER BY id`;
      return { text, names: ((await pool.query(text, [param.value])).rows as Array<{ name: string }>).map((row) => row.name) };
    };

    it('reads the same rows for a batch of one as for a longer batch', async () => {
      expect((await names([2])).names).toEqual(['two']);
      expect((await names([1, 2])).names).toEqual(['one', 'two']);
      expect((await names([])).names).toEqual([]);
    });

    it('keeps one plan for a batch of one, where an array parameter is planned at every execution', async () => {
      let single = '';
      let batch = '';
      for (let run = 0; run < 8; run += 1) {
        single = (await names([1])).text;
        batch = (await names([1, 2])).text;
      }
      expect(Number((await plans(single)).generic_plans)).toBeGreaterThan(0);
      expect(await plans(batch)).toMatchObject({ generic_plans: '0' });
    });

    it('passes one value per column to unnest', async () => {
      const rows = (values: Array<[number, string]>) => {
        const columns = arrayParams(1, [
          ['int', values.map(([id]) => id)],
          ['text', values.map(([, name]) => name)],
        ]);
        return pool.query(`SELECT w.id FROM unnest(${columns.sql}) AS o (id, name) JOIN widgets w ON w.id = o.id AND w.name = o.name ORDER BY w.id`, columns.values);
      };
      expect((await rows([[2, 'two']])).rows).toEqual([{ id: 2 }]);
      expect((await rows([[1, 'one'], [2, 'nope']])).rows).toEqual([{ id: 1 }]);
    });
  });

  it('sends a statement unnamed once its columns changed under it, after one failure the caller retries', async () => {
    const text = 'SELECT * FROM widgets WHERE id = $1';
    expect((await pool.query(text, [1])).rows).toEqual([{ id: 1, name: 'one' }]);
    await pool.query('ALTER TABLE widgets ADD COLUMN colour text');
    await expect(pool.query(text, [1])).rejects.toMatchObject({ code: '0A000' });
    expect((await pool.query(text, [1])).rows).toEqual([{ id: 1, name: 'one', colour: null }]);
  });
});
