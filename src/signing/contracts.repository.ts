import { Injectable } from '@nestjs/common';
import type { PoolClient, QueryResult } from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import { Batcher } from '../common/batcher';
import { boundedKey } from '../common/bounded-key';
import { companyLockSql, dealLockSql, idLiteral } from '../database/advisory-locks';
import { arrayParam, arrayParams } from '../database/array-param';
import { entityRows } from '../database/entity-rows';
import type { Contract as ContractRow } from './contract.entity';
import { Contract } from './contract.entity';
import { ContractEvent } from './contract-event.entity';
import type { TimelineLine } from './contract-view';
import type { SignerProgress } from './esign-provider.port';

export interface NewContract {
  companyId: string;
  dealId: string;
  intentKey: string;
  templateId: string | null;
  title: string;
  signers?: SignerProgress[];
  ordered?: boolean;
  createdByUserId?: string | null;
}

/**
 * The read of `withLockedContract`, which each connection prepares once (`PREPARE` outlives transactions) and then
 * executes: sent as text it was planned at every call, a fifth of the database's planning per deal (see
 * docs/performance.md, 12-05c). Its columns are named, so a column a later migration adds leaves its result as it
 * was; a changed column type makes PostgreSQL refuse it, and `openLocked` prepares it again.
 */
const LOCKED_READ = 'locked_contract_read';
const lockedReadPrepared = new WeakSet<PoolClient>();
/** SQLSTATEs of a prepared read not as recorded: it exists already, it does not exist, its result type changed. */
const PREPARED_READ_REFUSALS = new Set(['42P05', '26000', '0A000']);

/** Enough to find a contract and take its deal's lock. */
export type ContractKey = Pick<ContractRow, 'id' | 'companyId' | 'dealId'>;

export interface TimelineEntry {
  type: string;
  actor?: string | null;
  at?: Date;
  details?: Record<string, unknown>;
  /** Same key twice → recorded once. Defaults to type + time. */
  dedupeKey?: string;
}

export type ContractChange = Partial<Pick<ContractRow, 'taskId' | 'status' | 'statusReason' | 'signers' | 'files' | 'effects' | 'title' | 'templateId' | 'lastCheckedAt'>>;

const COLUMNS: Record<keyof ContractChange, string> = {
  taskId: 'task_id',
  status: 'status',
  statusReason: 'status_reason',
  signers: 'signers',
  files: 'files',
  effects: 'effects',
  title: 'title',
  templateId: 'template_id',
  lastCheckedAt: 'last_checked_at',
};
const JSON_FIELDS = new Set(['signers', 'files', 'effects']);

/** The timeline lines of contract `$1` as one INSERT; appends its parameters to `values`. */
function insertTimeline(values: unknown[], timeline: TimelineEntry[]): string {
  const lines = timeline.map((entry) => ({ ...entry, at: entry.at ?? new Date() }));
  const columns = arrayParams(values.length + 1, [
    ['text', lines.map((line) => line.type)],
    ['text', lines.map((line) => line.actor ?? null)],
    ['timestamptz', lines.map((line) => line.at)],
    ['jsonb', lines.map((line) => JSON.stringify(line.details ?? {}))],
    ['text', lines.map((line) => boundedKey(line.dedupeKey ?? `${line.type}:${line.at.toISOString()}`))],
  ]);
  values.push(...columns.values);
  return `INSERT INTO contract_events (contract_id, type, actor, at, details, dedupe_key)
    SELECT $1::bigint, * FROM unnest(${columns.sql})
    ON CONFLICT (contract_id, dedupe_key) DO NOTHING`;
}

/** The panel's hot read (`forDealWithTimeline`); exported for the benchmark that shows its plan. */
export const DEAL_CONTRACTS_WITH_TIMELINE = `SELECT c.*, COALESCE((SELECT jsonb_agg(jsonb_build_object('type', e.type, 'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'actor', e.actor, 'details', e.details) ORDER BY e.at, e.id) FROM contract_events e WHERE e.contract_id = c.id), '[]'::jsonb) AS timeline
  FROM contracts c WHERE c.company_id = $1 AND c.deal_id = $2 ORDER BY c.created_at DESC, c.id DESC`;

@Injectable()
export class ContractsRepository {
  private readonly toContracts: (rows: Array<Record<string, unknown>>) => ContractRow[];
  /** Reads by task that start while one is in flight share the next round trip: a task's webhooks come in pairs. */
  private readonly taskReads = new Batcher<{ provider: string; taskId: string }, ContractRow | null>((keys) => this.readByTasks(keys), { maxBatch: 200, maxInFlight: 1 });

  private readonly prepareLockedRead: string;

  constructor(private readonly dataSource: DataSource) {
    this.toContracts = entityRows(dataSource, Contract);
    const columns = dataSource.getMetadata(Contract).columns.map((column) => `c.${column.databaseName}`);
    this.prepareLockedRead = `PREPARE ${LOCKED_READ} (bigint) AS SELECT ${columns.join(', ')},
      EXISTS (SELECT 1 FROM deal_deletions d WHERE d.company_id = c.company_id AND d.deal_id = c.deal_id) AS deal_deleted
      FROM contracts c WHERE c.id = $1`;
  }

  /**
   * Records the intent to send (committed before any remote call); a repeat returns the existing row's key. The
   * no-op update makes the repeat return the row in the same statement, even while the first insert commits.
   */
  async createIntent(contract: NewContract): Promise<ContractKey> {
    const [row] = (await this.dataSource.query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, template_id, title, signers, ordered, created_by_user_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (company_id, intent_key) DO UPDATE SET intent_key = EXCLUDED.intent_key
       RETURNING id, company_id, deal_id`,
      [
        contract.companyId,
        contract.dealId,
        contract.intentKey,
        contract.templateId,
        contract.title,
        JSON.stringify(contract.signers ?? []),
        contract.ordered ?? false,
        contract.createdByUserId ?? null,
      ],
    )) as Array<{ id: string; company_id: string; deal_id: string }>;
    return { id: String(row.id), companyId: String(row.company_id), dealId: String(row.deal_id) };
  }

  async byId(id: string, manager: EntityManager = this.dataSource.manager): Promise<ContractRow | null> {
    const [contract] = this.toContracts(await manager.query('SELECT * FROM contracts WHERE id = $1', [id]));
    return contract ?? null;
  }

  byTask(provider: string, taskId: string): Promise<ContractRow | null> {
    return this.taskReads.add({ provider, taskId });
  }

  private async readByTasks(keys: Array<{ provider: string; taskId: string }>): Promise<Array<ContractRow | null>> {
    // Every pair of the two lists matches; the map keeps the asked ones (there is one provider today).
    const providers = arrayParam(1, 'text', [...new Set(keys.map((key) => key.provider))]);
    const taskIds = arrayParam(2, 'text', keys.map((key) => key.taskId));
    const contracts = this.toContracts(
      await this.dataSource.query(`SELECT * FROM contracts WHERE provider = ANY(${providers.sql}) AND task_id = ANY(${taskIds.sql})`, [providers.value, taskIds.value]),
    );
    const byKey = new Map(contracts.map((contract) => [`${contract.provider} ${contract.taskId}`, contract]));
    return keys.map((key) => byKey.get(`${key.provider} ${key.taskId}`) ?? null);
  }

  forDeal(companyId: string, dealId: string, manager: EntityManager = this.dataSource.manager): Promise<ContractRow[]> {
    return manager.find(Contract, { where: { companyId, dealId }, order: { createdAt: 'DESC', id: 'DESC' } });
  }

  async dealHasContracts(companyId: string, dealId: string): Promise<boolean> {
    const rows = (await this.dataSource.query('SELECT 1 FROM contracts WHERE company_id = $1 AND deal_id = $2 LIMIT 1', [companyId, dealId])) as unknown[];
    return rows.length > 0;
  }

  /** A deal's contracts, newest first, each with its timeline, in one round trip: the panel's hot read. */
  async forDealWithTimeline(companyId: string, dealId: string): Promise<Array<{ contract: ContractRow; timeline: TimelineLine[] }>> {
    const rows = (await this.dataSource.query(DEAL_CONTRACTS_WITH_TIMELINE, [companyId, dealId])) as Array<Record<string, unknown> & { timeline: Array<Omit<TimelineLine, 'at'> & { at: string }> }>;
    const contracts = this.toContracts(rows);
    return rows.map((row, index) => ({ contract: contracts[index], timeline: row.timeline.map((line) => ({ ...line, at: new Date(line.at) })) }));
  }

  events(contractIds: string[]): Promise<ContractEvent[]> {
    if (!contractIds.length) return Promise.resolve([]);
    return this.dataSource
      .getRepository(ContractEvent)
      .createQueryBuilder('e')
      .where('e.contract_id IN (:...ids)', { ids: contractIds })
      .orderBy('e.at', 'ASC')
      .addOrderBy('e.id', 'ASC')
      .getMany();
  }

  /** Runs `work` in one transaction holding the deal's lock, and its company's shared (see `advisory-locks`). */
  withDealLock<T>(companyId: string, dealId: string, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.withDealLocks(companyId, [dealId], work);
  }

  /** Several deals' locks, taken in id order (two transactions locking the same deals never wait for each other in a circle). */
  withDealLocks<T>(companyId: string, dealIds: string[], work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      const dealLocks = [...new Set(dealIds)].sort((a, b) => Number(a) - Number(b)).map((dealId) => dealLockSql(companyId, dealId));
      await manager.query([companyLockSql(companyId, 'shared'), ...dealLocks].join('; '));
      return work(manager);
    });
  }

  /** Moves a deal's contracts to another deal (a merge), each with a timeline line; answers how many moved. */
  async moveToDeal(manager: EntityManager, companyId: string, fromDealId: string, toDealId: string): Promise<number> {
    const rows = (await manager.query(
      `WITH moved AS (
         UPDATE contracts SET deal_id = $3, former_deal_ids = array_append(former_deal_ids, $2::bigint), updated_at = now()
         WHERE company_id = $1 AND deal_id = $2 RETURNING id
       ), lines AS (
         INSERT INTO contract_events (contract_id, type, details, dedupe_key)
         SELECT id, 'deal_merged', jsonb_build_object('fromDealId', $2::bigint, 'toDealId', $3::bigint), 'deal_merged:' || $2 FROM moved
         ON CONFLICT (contract_id, dedupe_key) DO NOTHING
       )
       SELECT count(*)::int AS moved FROM moved`,
      [companyId, fromDealId, toDealId],
    )) as Array<{ moved: number }>;
    return rows[0].moved;
  }

  /**
   * `withDealLock` for one contract, which `work` gets as read once the locks are granted (null if it is gone), with
   * whether its deal is marked deleted. Beginning, locking and reading go to PostgreSQL as one message of four
   * statements: each statement takes its own snapshot (READ COMMITTED), so the read sees every change committed
   * before the lock was granted, and a deal's life, which takes several of these, saves two round trips each. Deals
   * are marked deleted under their lock, so the mark stays as read until `work` changes it. The read is a statement
   * each connection prepares once (see `LOCKED_READ`).
   */
  async withLockedContract<T>(key: ContractKey, work: (manager: EntityManager, contract: ContractRow | null, dealDeleted: boolean) => Promise<T>): Promise<T> {
    let dealId = key.dealId;
    for (;;) {
      const runner = this.dataSource.createQueryRunner();
      try {
        const client = (await runner.connect()) as PoolClient;
        const read = await this.openLocked(client, key.companyId, dealId, key.id);
        try {
          const [contract] = this.toContracts(read.rows);
          if (contract && contract.dealId !== dealId) {
            // Moved to another deal (a merge) since the caller read it: that deal's lock is the one that counts.
            await client.query('ROLLBACK');
            dealId = contract.dealId;
            continue;
          }
          const result = await work(runner.manager, contract ?? null, read.rows[0]?.deal_deleted === true);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      } finally {
        await runner.release();
      }
    }
  }

  /**
   * Begins, takes the locks and reads the contract, preparing the read on this connection first if it has not. If the
   * connection's prepared read is not as recorded (an opening whose answer was lost after its `PREPARE` ran, the
   * statement gone, a migration that changed a column's type under it), PostgreSQL refuses the opening before anything
   * ran but the opening: the read is dropped, prepared again and the opening sent once more, at most twice.
   */
  private async openLocked(client: PoolClient, companyId: string, dealId: string, contractId: string): Promise<QueryResult> {
    const locks = `${companyLockSql(companyId, 'shared')}; ${dealLockSql(companyId, dealId)}; EXECUTE ${LOCKED_READ}(${idLiteral(contractId)})`;
    for (let attempt = 1; ; attempt += 1) {
      const prepare = lockedReadPrepared.has(client) ? '' : `${this.prepareLockedRead}; `;
      try {
        const read = ((await client.query(`START TRANSACTION; ${prepare}${locks}`)) as unknown as QueryResult[]).at(-1)!;
        lockedReadPrepared.add(client);
        return read;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        if (!PREPARED_READ_REFUSALS.has((error as { code?: string }).code ?? '') || attempt > 2) throw error;
        lockedReadPrepared.delete(client);
        await client.query(`DEALLOCATE ${LOCKED_READ}`).catch(() => undefined);
      }
    }
  }

  /**
   * Changes the contract and adds its timeline lines in one statement (data-modifying CTEs), which answers the
   * changed row: a deal's life is counted in statements, and every change that has a timeline line, or whose caller
   * goes on with the contract, would otherwise cost two.
   */
  async update(manager: EntityManager, id: string, change: ContractChange, ...timeline: TimelineEntry[]): Promise<ContractRow> {
    const values: unknown[] = [id];
    const assignments = Object.entries(change)
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) => {
        values.push(JSON_FIELDS.has(field) ? JSON.stringify(value) : value);
        return `${COLUMNS[field as keyof ContractChange]} = $${values.length}`;
      });
    const update = `UPDATE contracts SET ${[...assignments, 'updated_at = now()'].join(', ')} WHERE id = $1 RETURNING *`;
    const lines = timeline.length ? `, timeline AS (${insertTimeline(values, timeline)})` : '';
    const [changed] = this.toContracts(await manager.query(`WITH changed AS (${update})${lines} SELECT * FROM changed`, values));
    if (!changed) throw new Error(`contract ${id} is gone`);
    return changed;
  }

  /**
   * Why a contract still waiting for its task is not sent yet, outside the try that failed (which rolled back), so
   * the panel says so between tries; sending it clears the reason.
   */
  async noteSendDelayed(id: string, reason: string): Promise<void> {
    await this.dataSource.query(`UPDATE contracts SET status_reason = $2, updated_at = now() WHERE id = $1 AND status = 'pending' AND task_id IS NULL`, [id, reason]);
  }

  async markDealDeleted(manager: EntityManager, companyId: string, dealId: string): Promise<void> {
    await manager.query('INSERT INTO deal_deletions (company_id, deal_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [companyId, dealId]);
  }

  async forgetDealDeleted(manager: EntityManager, companyId: string, dealId: string): Promise<void> {
    await manager.query('DELETE FROM deal_deletions WHERE company_id = $1 AND deal_id = $2', [companyId, dealId]);
  }

  async isDealDeleted(manager: EntityManager, companyId: string, dealId: string): Promise<boolean> {
    const rows = (await manager.query('SELECT 1 FROM deal_deletions WHERE company_id = $1 AND deal_id = $2', [companyId, dealId])) as unknown[];
    return rows.length > 0;
  }
}
