import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SecretBox } from '../../src/common/secret-box';
import { SecretsReseal } from '../../src/installations/secrets-reseal.service';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { type TestApp, startTestApp } from '../support/test-app';
import { type TestDatabase, createTestDatabase } from '../support/test-database';

const SEALED_COLUMNS = `SELECT split_part(access_token, '.', 2) AS key FROM installations UNION ALL SELECT split_part(refresh_token, '.', 2) FROM installations
  UNION ALL SELECT split_part(access_token, '.', 2) FROM esign_connections UNION ALL SELECT split_part(refresh_token, '.', 2) FROM esign_connections WHERE refresh_token IS NOT NULL`;

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

  const sealedKeys = async () => ((await app.app.get(DataSource).query(SEALED_COLUMNS)) as Array<{ key: string }>).map((row) => row.key);
  const keyId = (key: Buffer) => new SecretBox(key).currentKeyId;

  it('the daily job re-seals every token with the new key, so the old one can be dropped and Pipedrive and DottedSign still work', async () => {
    const scenario = new Scenario(s);
    await scenario.installAndConnect();
    await s.install(scenario.demo.regularUserId);
    expect(new Set(await sealedKeys())).toEqual(new Set([keyId(oldKey)]));

    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64'), ENCRYPTION_PREVIOUS_KEYS: oldKey.toString('base64') });
    expect(await app.app.get(SecretsReseal).reseal()).toEqual({ resealed: (await sealedKeys()).length, unreadable: 0 });
    expect(new Set(await sealedKeys())).toEqual(new Set([keyId(newKey)]));
    expect(await app.app.get(SecretsReseal).reseal()).toEqual({ resealed: 0, unreadable: 0 });

    await restartWith({ ENCRYPTION_KEY: newKey.toString('base64') });
    const { companyId, adminUserId, dealId } = scenario.demo;
    expect((await s.api(companyId, adminUserId, '/api/templates')).status).toBe(200);
    expect((await s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`)).status).toBe(200);
  });
});
