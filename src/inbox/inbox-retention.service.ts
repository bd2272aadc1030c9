import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type AppConfig, CONFIG } from '../config/app-config';
import { JobQueue } from '../jobs/job-queue.service';

export const PRUNE_INBOX = 'inbox.prune';

/** Rows per delete statement: a long backlog of old events goes in short transactions. */
const PRUNE_BATCH = 5000;

/**
 * Finished inbox events (processed, ignored, failed) are deleted `INBOX_RETENTION_DAYS` after they arrived, by a
 * daily job; pending ones never. The row is also its delivery's dedupe key, so a redelivery older than that is taken
 * as new: Pipedrive stops retrying after minutes, and an old DottedSign event finds its contract past that state.
 * The same job deletes events of companies no longer installed.
 */
@Injectable()
export class InboxRetention implements OnApplicationBootstrap {
  private readonly logger = new Logger(InboxRetention.name);

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobQueue,
    private readonly dataSource: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduled(PRUNE_INBOX, '17 3 * * *', () => this.prune());
  }

  /**
   * Deletes the finished events that arrived before the retention window; returns how many went. Each batch's ids are
   * read through the `received_at` index and deleted by primary key (`= ANY(ARRAY(…))`): with `IN (…)` the planner
   * chose a scan of the whole table for every batch.
   */
  async prune(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const [{ count }] = (await this.dataSource.query(
        `WITH gone AS (
           DELETE FROM inbox_events WHERE id = ANY(ARRAY(
             SELECT id FROM inbox_events
             WHERE received_at < now() - make_interval(days => $1) AND status <> 'pending'
             ORDER BY received_at LIMIT $2))
           RETURNING 1)
         SELECT count(*)::int AS count FROM gone`,
        [this.config.inboxRetentionDays, PRUNE_BATCH],
      )) as Array<{ count: number }>;
      deleted += count;
      if (count < PRUNE_BATCH) break;
    }
    if (deleted) this.logger.log(`deleted ${deleted} finished inbox events older than ${this.config.inboxRetentionDays} days`);
    return deleted + (await this.pruneErasedCompanies());
  }

  /**
   * A delivery accepted in the same instant as its company's erase (the accept saw the company, the erase did not see
   * the new row) outlives the uninstall; such rows can only be recent, so the last two days are looked at.
   */
  private async pruneErasedCompanies(): Promise<number> {
    const [{ count }] = (await this.dataSource.query(
      `WITH gone AS (
         DELETE FROM inbox_events e
         WHERE received_at > now() - interval '2 days' AND company_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM companies c WHERE c.id = e.company_id)
         RETURNING 1)
       SELECT count(*)::int AS count FROM gone`,
    )) as Array<{ count: number }>;
    if (count) this.logger.log(`deleted ${count} inbox events of companies uninstalled as they arrived`);
    return count;
  }
}
