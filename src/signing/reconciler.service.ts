import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type AppConfig, CONFIG, RECONCILE_CHECKS_AT_ONCE } from '../config/app-config';
import { DottedSignConnections } from '../dottedsign/dottedsign-connections.service';
import { JobQueue } from '../jobs/job-queue.service';
import { cronEvery } from '../jobs/cron-every';
import { CompanyContext } from './company-context.service';
import { ContractSender, E_SIGN_PROVIDER } from './contract-sender.service';
import { DealSweep } from './deal-sweep.service';
import { DealSync } from './deal-sync.service';
import { signersAdvanced } from './contract-status';
import type { ESignProvider, SignerProgress } from './esign-provider.port';
import { SigningOutcomes, TASK_DELETED } from './signing-outcomes.service';

export const RECONCILE = 'signing.reconcile';

/**
 * A contract still pending without a task this long after it was recorded lost the try that was sending it (a
 * process that died mid-send). A panel send has no later try. An auto-send's job keeps trying for up to 17 minutes
 * of retry delays plus its 21 tries' run time (a minute at most each) and records a failure itself; only a process
 * that died in its last try leaves the contract pending. (A job put off to a rate limit's reset may still be alive
 * after that; a send then meets the other on the deal's lock and adopts its task, so no second one is made.)
 */
const ABANDONED_SEND_MS = { panel: 15 * 60_000, auto: 45 * 60_000 };

export interface ReconcileReport {
  checked: number;
  changed: number;
  dealsGone: number;
  /** Deals added without their create webhook reaching the app, now handed to the inbox (see `DealSweep`). */
  dealsMissed: number;
  errors: number;
}

interface DueContract {
  id: string;
  company_id: string;
  deal_id: string;
  task_id: string | null;
  intent_key: string;
  status: string;
  status_reason: string | null;
  signers: SignerProgress[];
  created_at: Date;
}

/**
 * Longest unchecked first, a contract never checked counting from its creation: contracts made faster than a
 * cycle checks them must not keep the ones checked before from ever being checked again. The contracts are
 * claimed as they are chosen (marked checked now): a cycle running at the same time, in this process or
 * another (one outlasting its job's expiry), takes others instead of repeating these calls. A contract whose row
 * is locked (its deal being deleted or merged) is left to the next cycle rather than waited for.
 * `$1`: contracts per cycle, `$2`: per company.
 */
export const CLAIM_DUE_CONTRACTS = `WITH due AS (
    SELECT id, last_checked_at, COALESCE(last_checked_at, created_at) AS since FROM (
      SELECT c.*, row_number() OVER (PARTITION BY company_id ORDER BY COALESCE(last_checked_at, created_at), id) AS n
      FROM contracts c
      WHERE status IN ('pending', 'draft', 'waiting')
         OR (status IN ('completed', 'declined', 'voided', 'expired') AND NOT (effects ? 'writeBackDone'))
    ) open WHERE n <= $2
    ORDER BY since, id LIMIT $1
  ), locked AS (
    SELECT c.id FROM contracts c JOIN due ON due.id = c.id
    WHERE c.last_checked_at IS NOT DISTINCT FROM due.last_checked_at
    ORDER BY c.id FOR UPDATE OF c SKIP LOCKED
  ), claimed AS (
    UPDATE contracts c SET last_checked_at = now() FROM locked JOIN due ON due.id = locked.id WHERE c.id = locked.id
    RETURNING c.id, c.company_id, c.deal_id, c.task_id, c.intent_key, c.status, c.status_reason, c.signers, c.created_at, due.since
  )
  SELECT * FROM claimed ORDER BY since, id`;

/**
 * Catches what lost webhooks missed: deals added without their create webhook (`DealSweep`), and open contracts
 * (oldest-checked first) compared with the provider's task and with the Pipedrive deal, through the same code
 * paths as webhooks. Cost grows with open contracts and with companies due a deal sweep, never with history.
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap {
  private readonly logger = new Logger(Reconciler.name);

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(E_SIGN_PROVIDER) private readonly provider: ESignProvider,
    private readonly dataSource: DataSource,
    private readonly jobs: JobQueue,
    private readonly outcomes: SigningOutcomes,
    private readonly deals: DealSync,
    private readonly connections: DottedSignConnections,
    private readonly context: CompanyContext,
    private readonly sweep: DealSweep,
    private readonly sender: ContractSender,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.define(RECONCILE, { retryLimit: 0 });
    await this.jobs.scheduled(RECONCILE, cronEvery(this.config.reconcile.intervalSeconds), () => this.runCycle());
  }

  async runCycle(): Promise<ReconcileReport> {
    const due = (await this.dataSource.query(
      CLAIM_DUE_CONTRACTS,
      // Each check costs one DottedSign read and one Pipedrive deal read (about 1 token of the daily budget).
      [this.config.reconcile.perCycle, this.config.reconcile.perCompany],
    )) as DueContract[];
    const swept = await this.sweep.run();
    const report: ReconcileReport = { checked: 0, changed: 0, dealsGone: 0, dealsMissed: swept.missed, errors: swept.errors };
    let next = 0;
    const checker = async () => {
      while (next < due.length) {
        const row = due[next++];
        report.checked += 1;
        try {
          await this.reconcile(row, report);
        } catch (error) {
          report.errors += 1;
          this.logger.warn(`reconciling contract ${row.id}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: RECONCILE_CHECKS_AT_ONCE }, checker));
    if (report.checked || report.dealsMissed || report.errors) this.logger.log(`reconciliation: ${JSON.stringify(report)}`);
    return report;
  }

  private async reconcile(row: DueContract, report: ReconcileReport) {
    const key = { id: row.id, companyId: row.company_id, dealId: row.deal_id };
    const context = await this.context.load(row.company_id);
    if (!context?.connection) return;
    // What the signers did is applied whatever Pipedrive answers below: the deal read can fail for reasons of its
    // own (the acting user may not see the deal, the day's budget spent) and must not hide a signed contract.
    if (row.task_id) {
      const task = await this.provider.get(await this.connections.session(row.company_id), row.task_id);
      // A signer's lost webhook leaves the status as it was: their progress counts as a change too, and so does a task
      // alive again after DottedSign had reported it deleted (another account reconnected, say).
      if (task && (task.status !== row.status || signersAdvanced(row.signers, task.signers) || row.status_reason === TASK_DELETED)) {
        report.changed += 1;
        await this.outcomes.applyTask(key, task);
      } else if (!task && (await this.outcomes.markTaskDeleted(key, row.task_id))) {
        report.changed += 1;
      }
    }
    const api = await this.context.pipedrive(context);
    const deal = await api.deal(Number(row.deal_id));
    if (!deal || deal.isDeleted) {
      // The deal went while its delete webhook was lost (e.g. banned): end its tasks as the webhook would have.
      report.dealsGone += 1;
      await this.deals.endDeal(row.company_id, row.deal_id);
      return;
    }
    const abandonedAfter = row.intent_key.startsWith('panel:') ? ABANDONED_SEND_MS.panel : ABANDONED_SEND_MS.auto;
    if (!row.task_id && row.status === 'pending' && Date.now() - new Date(row.created_at).getTime() > abandonedAfter) {
      // Looks for a task that try created before creating one, like any retry; a failure is shown with Retry.
      report.changed += 1;
      await this.sender.send(key, { finalAttempt: true, context });
    }
    await this.outcomes.writeBack(key);
  }
}
