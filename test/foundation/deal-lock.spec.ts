import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { runMigrations } from '../../src/database/migrator';
import { Company } from '../../src/installations/company.entity';
import { Installation } from '../../src/installations/installation.entity';
import { InstallationsRepository } from '../../src/installations/installations.repository';
import { type ContractKey, ContractsRepository } from '../../src/signing/contracts.repository';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

describe('deal and company locks, with the contract read in the same round trip', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let contracts: ContractsRepository;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(database.url)).initialize();
    await runMigrations(dataSource);
    await dataSource.query(`INSERT INTO companies (id, name, domain) VALUES (42, 'Acme', 'acme')`);
    contracts = new ContractsRepository(dataSource);
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('waits for the holder of the deal lock and reads what it committed', async () => {
    const key = await contracts.createIntent({ companyId: '42', dealId: '7', intentKey: 'deal:7', templateId: null, title: 'NDA' });
    let releaseHolder!: () => void;
    let holderLocked!: () => void;
    const locked = new Promise<void>((resolve) => (holderLocked = resolve));
    const holder = contracts.withDealLock('42', '7', async (manager) => {
      holderLocked();
      await new Promise<void>((resolve) => (releaseHolder = resolve));
      await contracts.update(manager, key.id, { status: 'waiting', taskId: 'T-7' }, { type: 'sent' });
    });
    await locked;
    const order: string[] = [];
    const waiter = contracts.withLockedContract(key, async (_manager, contract) => {
      order.push('waiter');
      return contract;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    order.push('holder commits');
    releaseHolder();
    await holder;
    const seen = await waiter;
    expect(order).toEqual(['holder commits', 'waiter']);
    expect(seen).toMatchObject({ id: key.id, status: 'waiting', taskId: 'T-7' });
  });

  it('rolls back the work that failed and releases the lock', async () => {
    const key = await contracts.createIntent({ companyId: '42', dealId: '8', intentKey: 'deal:8', templateId: null, title: 'NDA' });
    await expect(
      contracts.withLockedContract(key, async (manager) => {
        await contracts.update(manager, key.id, { status: 'failed' });
        throw new Error('remote call failed');
      }),
    ).rejects.toThrow('remote call failed');
    const after = await contracts.withLockedContract(key, async (_manager, contract) => contract);
    expect(after?.status).toBe('pending');
  });

  it('an erase waits for the deal work under way, and deal work that comes after finds the company gone', async () => {
    await dataSource.query(`INSERT INTO companies (id, name, domain) VALUES (43, 'Beta', 'beta')`);
    const key = await contracts.createIntent({ companyId: '43', dealId: '9', intentKey: 'deal:9', templateId: null, title: 'NDA' });
    const installations = new InstallationsRepository(dataSource.getRepository(Installation), dataSource.getRepository(Company));
    const erase = () =>
      dataSource.transaction(async (manager) => {
        await installations.lockCompany(manager, '43');
        await installations.eraseCompany(manager, '43');
        order.push('erased');
      });
    const order: string[] = [];
    let releaseSender!: () => void;
    let senderLocked!: () => void;
    const locked = new Promise<void>((resolve) => (senderLocked = resolve));
    // A send that has read its contract and is waiting for DottedSign to create the task.
    const sender = contracts.withLockedContract(key, async (manager, contract) => {
      senderLocked();
      await new Promise<void>((resolve) => (releaseSender = resolve));
      await contracts.update(manager, key.id, { status: 'waiting', taskId: 'T-9' }, { type: 'sent' });
      order.push('task recorded');
      return contract;
    });
    await locked;
    const erased = erase();
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseSender();
    expect(await sender).toMatchObject({ id: key.id });
    await erased;
    expect(order).toEqual(['task recorded', 'erased']);
    // A retry of that send, or a delete of its deal, after the erase: nothing to work on, nothing stored again.
    expect(await contracts.withLockedContract(key, async (_manager, contract) => contract)).toBeNull();
    expect(await contracts.withDealLock('43', '9', async (manager) => manager.query('SELECT id FROM contracts WHERE company_id = 43'))).toEqual([]);
  });

  describe('the contract read, prepared once per connection', () => {
    // One connection, so every call runs on the connection the previous one prepared.
    let single: DataSource;
    let lockedReads: ContractsRepository;
    let key: ContractKey;
    const readAndPrepared = () =>
      lockedReads.withLockedContract(key, async (manager, contract) => {
        const [prepared] = (await manager.query(`SELECT prepare_time FROM pg_prepared_statements WHERE name = 'locked_contract_read'`)) as Array<{ prepare_time: Date }>;
        return { title: contract?.title, preparedAt: prepared?.prepare_time.getTime() };
      });

    beforeAll(async () => {
      single = await new DataSource(dataSourceOptions(database.url, 1)).initialize();
      lockedReads = new ContractsRepository(single);
      key = await lockedReads.createIntent({ companyId: '42', dealId: '8', intentKey: 'prepared-read', templateId: null, title: 'Lease' });
    });
    afterAll(() => single?.destroy());

    it('is prepared by the first read and used as it is by the next', async () => {
      const first = await readAndPrepared();
      expect(first).toEqual({ title: 'Lease', preparedAt: expect.any(Number) });
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(await readAndPrepared()).toEqual(first);
    });

    it('is prepared again where it is gone', async () => {
      const before = await readAndPrepared();
      await single.query('DEALLOCATE locked_contract_read');
      const after = await readAndPrepared();
      expect(after.title).toBe('Lease');
      expect(after.preparedAt).toBeGreaterThan(before.preparedAt!);
    });

    it('keeps reading after a migration adds a column to contracts, or changes the type of one it reads', async () => {
      expect((await readAndPrepared()).title).toBe('Lease');
      await single.query('ALTER TABLE contracts ADD COLUMN later_column text');
      try {
        expect((await readAndPrepared()).title).toBe('Lease');
      } finally {
        await single.query('ALTER TABLE contracts DROP COLUMN later_column');
      }
      await single.query('ALTER TABLE contracts ALTER COLUMN title TYPE varchar(500)');
      try {
        expect((await readAndPrepared()).title).toBe('Lease');
      } finally {
        await single.query('ALTER TABLE contracts ALTER COLUMN title TYPE text');
      }
      expect((await readAndPrepared()).title).toBe('Lease');
    });
  });

  it('refuses ids that are not row ids instead of writing them into SQL', async () => {
    await expect(contracts.withLockedContract({ id: '1; DROP TABLE contracts', companyId: '42', dealId: '7' }, async () => null)).rejects.toThrow('not a row id');
    expect(await contracts.byId('1')).toBeTruthy();
  });
});
