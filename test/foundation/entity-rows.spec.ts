import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { entityRows } from '../../src/database/entity-rows';
import { runMigrations } from '../../src/database/migrator';
import { InboxEvent } from '../../src/inbox/inbox-event.entity';
import { Installation } from '../../src/installations/installation.entity';
import { Contract } from '../../src/signing/contract.entity';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

describe('entity rows (hot reads without the query builder)', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(database.url)).initialize();
    await runMigrations(dataSource);
    await dataSource.query(`INSERT INTO companies (id, name, domain) VALUES (42, 'Acme', 'acme')`);
    await dataSource.query(
      `INSERT INTO installations (company_id, user_id, user_name, is_admin, api_domain, scopes, access_token, refresh_token, expires_at, refreshed_at)
       VALUES (42, 7, 'Ann', true, 'https://acme.example', ARRAY['deals:full', 'contacts:read'], 'sealed-a', 'sealed-r', now() + interval '1 hour', now())`,
    );
    await dataSource.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, task_id, template_id, title, status, signers, files, effects, ordered)
       VALUES (42, 9000000000123, 'deal:1', 'T-1', '5', 'NDA <b>', 'completed',
               '[{"email": "pia@customer.test", "status": "signed"}]', '[{"kind": "completed", "pipedriveFileId": 3}]',
               '{"noteIds": {"completed": 11}}', true)`,
    );
    await dataSource.query(`INSERT INTO inbox_events (source, dedupe_key, event_type, company_id, payload) VALUES ('pipedrive', 'e-1', 'deal:create', 42, '{"meta": {"id": "e-1"}, "data": [1, null]}')`);
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it.each([
    ['contracts', Contract],
    ['installations', Installation],
    ['inbox_events', InboxEvent],
  ] as const)('maps a SELECT * of %s to what TypeORM itself reads, types included', async (table, entity) => {
    const viaTypeOrm = await dataSource.getRepository<object>(entity).find();
    const viaRows = entityRows<object>(dataSource, entity)(await dataSource.query(`SELECT * FROM ${table}`));
    expect(viaRows).toHaveLength(1);
    expect(viaRows[0]).toBeInstanceOf(entity);
    expect(viaRows).toEqual(viaTypeOrm);
  });
});
