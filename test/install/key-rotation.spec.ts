import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SecretBox } from '../../src/common/secret-box';
import { SecretsReseal } from '../../src/installations/secrets-reseal.service';
import { SEALED_TABLES } from '../../src/installations/sealed-tokens';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { type TestApp, startTestApp } from '../support/test-app';
import { type TestDatabase, createTestDatabase } from '../support/test-database';
import { sealUnbound } from '../support/unbound-seal';

/** `<format>.<key id>` of every sealed value. */
const header = (column: string) => `split_part(${column}, '.', 1) || '.' || split_part(${column}, '.', 2)`;
const SEALED_HEADERS = `SELECT ${header('access_token')} AS header FROM installations UNION ALL SELECT ${header('refresh_token')} FROM installations
  UNION ALL SELECT ${header('access_token')} FROM esign_connections UNION ALL SELECT ${header('refresh_token')} FROM esign_connections WHERE refresh_token IS NOT NULL`;

describe('encryption key rotation (app + both simulators)', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  let database: TestDatabase;
  let s: Sandbox;
  let app: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    s = await startSandbox({ database, env: { ENCRYPTION_KEY: oldKey.toString('base64') } });
    app = s.app;
  });
  afterAll(async () => {
    await app?.close();
    await s?.close().catch(() => undefined);
    await database?.drop();
  });

  /** The same database and address, another process's configuration. */
  async function restartWith(env: Record<string, string>): Promise<void> {
    await app.close();
    app = await startTestApp({ database, port: Number(new URL(s.app.url).port), env: { ...s.appEnv, ...env } });
    s.app = app;
  }

  const sealedHeaders = async () => ((await app.app.get(DataSource).query(SEALED_HEADERS)) as Array<{ header: string }>).map((row) => row.header);
  const headerOf = (key: Buffer) => new SecretBox(key).currentHeader;

  it('the daily job re-seals every token with the new key, so the old one can be dropped and Pipedrive and DottedSign still work', async () => {
    const scenario = new Scenario(s);
    await scenario.installAndConnect();
    await s.install(scenario.demo.regularUserId);
    expect(new Set(await sealedHeaders())).toEqual(new Set([headerOf(oldKey)]));

    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64'), ENCRYPTION_PREVIOUS_KEYS: oldKey.toString('base64') });
    expect(await app.app.get(SecretsReseal).reseal()).toEqual({ resealed: (await sealedHeaders()).length, unreadable: 0 });
    expect(new Set(await sealedHeaders())).toEqual(new Set([headerOf(newKey)]));
    expect(await app.app.get(SecretsReseal).reseal()).toEqual({ resealed: 0, unreadable: 0 });

    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64') });
    const { companyId, adminUserId, dealId } = scenario.demo;
    expect((await s.api(companyId, adminUserId, '/api/templates')).status).toBe(200);
    expect((await s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`)).status).toBe(200);
  });

  it('tokens sealed before they were bound to their row still work, and the daily job binds them', async () => {
    const db = app.app.get(DataSource);
    const box = app.app.get(SecretBox);
    // Rewrite every token as the app sealed it before (v1, bound to nothing), with the current key.
    for (const { table, key, owner, columns, place } of SEALED_TABLES) {
      const rows = (await db.query(`SELECT ${key}::text AS id, ${owner.map((column) => `${column}::text`).join(', ')}, ${columns.join(', ')} FROM ${table}`)) as Array<Record<string, string | null>>;
      for (const row of rows) {
        for (const column of columns) {
          const sealed = row[column];
          if (sealed) await db.query(`UPDATE ${table} SET ${column} = $1 WHERE ${key} = $2`, [sealUnbound(newKey, box.decrypt(sealed, place(row, column))), row.id]);
        }
      }
    }
    const count = (await sealedHeaders()).length;
    expect(new Set(await sealedHeaders())).toEqual(new Set([`v1.${headerOf(newKey).split('.')[1]}`]));
    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64') });
    const scenario = new Scenario(s);
    const { companyId, adminUserId, dealId } = scenario.demo;
    expect((await s.api(companyId, adminUserId, '/api/templates')).status).toBe(200);
    expect((await s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`)).status).toBe(200);

    expect(await app.app.get(SecretsReseal).reseal()).toEqual({ resealed: count, unreadable: 0 });
    expect(new Set(await sealedHeaders())).toEqual(new Set([headerOf(newKey)]));
    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64') });
    expect((await s.api(companyId, adminUserId, '/api/templates')).status).toBe(200);
    expect((await s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`)).status).toBe(200);
  });
});
