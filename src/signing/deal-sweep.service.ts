import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type AppConfig, CONFIG } from '../config/app-config';
import { InboxService } from '../inbox/inbox.service';
import { CompanyContext } from './company-context.service';
import { DEAL_MISSED, type AddedDeal, autoSendIntentKey } from './deal-sync.service';

/** Companies swept per reconciliation cycle, least recently swept first. */
const MAX_COMPANIES_PER_CYCLE = 100;
/** Pages of 500 deals read per company per cycle; a longer list goes on from there next cycle. */
const MAX_PAGES_PER_COMPANY = 10;
/** Each sweep reads again the last minute before its start: deals changed in the same second are not skipped. */
const OVERLAP_MS = 60_000;

/**
 * The deals a sweep may send: those added since the install, and since the auto-send rules last came to cover more
 * deals (a deal added before was judged by its webhook under the rules of its time). Pipedrive's times have whole
 * seconds: a deal added in the install's second counts as added after it, one added in the widening's second as before.
 */
function addedFrom(installedAt: Date, autoSendWidenedAt: Date | null): number {
  const installed = Math.floor(installedAt.getTime() / 1000) * 1000;
  return autoSendWidenedAt ? Math.max(installed, Math.ceil(autoSendWidenedAt.getTime() / 1000) * 1000) : installed;
}

export interface DealSweepReport {
  companies: number;
  missed: number;
  errors: number;
}

/**
 * Pipedrive loses a webhook's events while the webhook is banned (ten failed first attempts ban it for 30
 * minutes), so a deal added then never gets its create event. Each company's deals changed since its last sweep
 * are listed (one list call per 500 deals); a deal added since the install that has no automatic contract goes
 * through the inbox as a `deal:missed` event, handled as its create webhook would have been, once.
 */
@Injectable()
export class DealSweep {
  private readonly logger = new Logger(DealSweep.name);

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly context: CompanyContext,
    private readonly inbox: InboxService,
  ) {}

  async run(): Promise<DealSweepReport> {
    const due = (await this.dataSource.query(
      `SELECT id, created_at, deals_swept_until, auto_send_widened_at FROM companies
       WHERE deals_swept_at <= now() - $1 * interval '1 second'
       ORDER BY deals_swept_at, id LIMIT $2`,
      [this.config.reconcile.dealsIntervalSeconds, MAX_COMPANIES_PER_CYCLE],
    )) as Array<{ id: string; created_at: Date; deals_swept_until: Date; auto_send_widened_at: Date | null }>;
    const report: DealSweepReport = { companies: 0, missed: 0, errors: 0 };
    for (const company of due) {
      report.companies += 1;
      try {
        report.missed += await this.sweep(company.id, addedFrom(company.created_at, company.auto_send_widened_at), company.deals_swept_until);
      } catch (error) {
        report.errors += 1;
        this.logger.warn(`sweeping deals of company ${company.id}: ${(error as Error).message}`);
        await this.dataSource.query('UPDATE companies SET deals_swept_at = now() WHERE id = $1', [company.id]);
      }
    }
    return report;
  }

  /** The number of missed deals handed to the inbox; deals added before `notBefore` (ms) are left alone. */
  private async sweep(companyId: string, notBefore: number, sweptUntil: Date): Promise<number> {
    const context = await this.context.load(companyId);
    if (!context?.settings.autoSend.enabled || !context.settings.templateId) {
      // Deals added while auto-send is off (or has no template) are not sent automatically later, as their webhooks were not.
      await this.dataSource.query('UPDATE companies SET deals_swept_until = now(), deals_swept_at = now() WHERE id = $1', [companyId]);
      return 0;
    }
    const api = await this.context.pipedrive(context);
    const since = new Date(sweptUntil.getTime() - OVERLAP_MS);
    const addedSince = Math.max(notBefore, since.getTime());
    const { pipelineIds } = context.settings.autoSend;
    let until = sweptUntil.getTime();
    let cursor: string | null = null;
    let missed = 0;
    for (let pages = 0; pages < MAX_PAGES_PER_COMPANY; pages += 1) {
      const page = await api.dealsChangedSince(since, cursor);
      const added = page.items.filter(
        (deal) => deal.addTime !== null && Date.parse(deal.addTime) >= addedSince && (!pipelineIds.length || pipelineIds.includes(deal.pipelineId ?? 0)),
      );
      missed += await this.handOver(
        companyId,
        added.map((deal) => ({ id: String(deal.id), pipelineId: deal.pipelineId ?? 0, title: deal.title, personId: deal.personId })),
      );
      for (const deal of page.items) if (deal.updateTime) until = Math.max(until, Date.parse(deal.updateTime));
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    await this.dataSource.query('UPDATE companies SET deals_swept_until = $2, deals_swept_at = now() WHERE id = $1', [companyId, new Date(until)]);
    if (missed) this.logger.warn(`company ${companyId}: ${missed} deal(s) added without a create webhook reaching the app; handled now`);
    return missed;
  }

  /** Deals without an automatic contract become inbox events (a second sweep of the same deal adds none). */
  private async handOver(companyId: string, deals: AddedDeal[]): Promise<number> {
    if (!deals.length) return 0;
    const known = (await this.dataSource.query(`SELECT intent_key FROM contracts WHERE company_id = $1 AND intent_key = ANY($2::text[])`, [
      companyId,
      deals.map((deal) => autoSendIntentKey(deal.id)),
    ])) as Array<{ intent_key: string }>;
    const contracted = new Set(known.map((row) => row.intent_key));
    const missing = deals.filter((deal) => !contracted.has(autoSendIntentKey(deal.id)));
    const outcomes = await Promise.all(
      missing.map((deal) =>
        this.inbox.accept({ source: 'pipedrive', dedupeKey: `deal-sweep:${companyId}:${deal.id}`, eventType: DEAL_MISSED, companyId, payload: deal }),
      ),
    );
    return outcomes.filter((outcome) => outcome === 'accepted').length;
  }
}
