import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SecretBox } from '../../src/common/secret-box';
import { SecretsReseal } from '../../src/installations/secrets-reseal.service';
import { InstallationRevokedError } from '../../src/pipedrive/pipedrive.errors';
import { PipedriveTokens } from '../../src/pipedrive/pipedrive-tokens.service';
import { SEALED_TABLES } from '../../src/installations/sealed-tokens';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { eventually, holdLoopbackPort, type TestApp, startTestApp } from '../support/test-app';
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
    app = await startTestApp({ database, port: await holdLoopbackPort(Number(new URL(s.app.url).port)), env: { ...s.appEnv, ...env } });
    s.app = app;
  }

  const sealedHeaders = async () => ((await app.app.get(DataSource).query(SEALED_HEADERS)) as Array<{ header: string }>).map((row) => row.header);
  const headerOf = (key: Buffer) => new SecretBox(key).currentHeader;

  const allSealedWith = async (header: string) => (await sealedHeaders()).every((sealed) => sealed === header);

  it('the boot after a rotation re-seals every token with the new key, so the old one can be dropped and Pipedrive and DottedSign still work', async () => {
    const scenario = new Scenario(s);
    await scenario.installAndConnect();
    await s.install(scenario.demo.regularUserId);
    expect(new Set(await sealedHeaders())).toEqual(new Set([headerOf(oldKey)]));

    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64'), ENCRYPTION_PREVIOUS_KEYS: oldKey.toString('base64') });
    await eventually(() => allSealedWith(headerOf(newKey)), 'the boot to re-seal every token with the new key');
    // The daily run finds nothing left.
    expect(await app.app.get(SecretsReseal).reseal()).toEqual({ resealed: 0, unreadable: 0 });

    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64') });
    const { companyId, adminUserId, dealId } = scenario.demo;
    expect((await s.api(companyId, adminUserId, '/api/templates')).status).toBe(200);
    expect((await s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`)).status).toBe(200);
  });

  it('tokens sealed before they were bound to their row are bound at the next boot, and Pipedrive and DottedSign still work', async () => {
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
    expect(new Set(await sealedHeaders())).toEqual(new Set([`v1.${headerOf(newKey).split('.')[1]}`]));
    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64') });
    await eventually(() => allSealedWith(headerOf(newKey)), 'the boot to bind every token to its row');
    expect(await app.app.get(SecretsReseal).reseal()).toEqual({ resealed: 0, unreadable: 0 });
    const { companyId, adminUserId, dealId } = new Scenario(s).demo;
    expect((await s.api(companyId, adminUserId, '/api/templates')).status).toBe(200);
    expect((await s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`)).status).toBe(200);
  });

  it('a refresh Pipedrive refuses while the daily job re-seals the install still marks it unable to act', async () => {
    const db = app.app.get(DataSource);
    const box = app.app.get(SecretBox);
    const [installation] = (await db.query('SELECT id::text, company_id::text, user_id::text, refresh_token FROM installations WHERE user_id = $1', [
      new Scenario(s).demo.adminUserId,
    ])) as Array<Record<string, string>>;
    // Only the refresh token is stale: the job's one write to the row is the token the refresh presents.
    const [{ place }] = SEALED_TABLES.filter((table) => table.table === 'installations');
    const refreshToken = box.decrypt(installation.refresh_token, place(installation, 'refresh_token'));
    await db.query('UPDATE installations SET refresh_token = $1 WHERE id = $2', [sealUnbound(newKey, refreshToken), installation.id]);
    await s.sim('/tokens/expire', { body: {} });
    // The refresh token is refused, slowly: the job re-seals the install's tokens meanwhile (it waits for the row).
    await s.sim('/faults', {
      body: { method: 'POST', path: '/oauth/token', status: 400, count: 1, latencyMs: 1500, body: { success: false, error: 'invalid_grant', error_description: 'Invalid grant: refresh_token is invalid' } },
    });
    const refused = app.app.get(PipedriveTokens).apiFor({ id: installation.id }).me().catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const resealed = app.app.get(SecretsReseal).reseal();
    expect(await refused).toBeInstanceOf(InstallationRevokedError);
    expect((await resealed).unreadable).toBe(0);
    const [row] = await db.query('SELECT invalid_reason FROM installations WHERE id = $1', [installation.id]);
    expect(row.invalid_reason).toMatch(/invalid/i);
  });
});
