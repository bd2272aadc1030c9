import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { JobQueue } from '../jobs/job-queue.service';
import { PROCESS_INBOX } from './inbox.service';

export const FAIL_ABANDONED_EVENTS = 'inbox.fail-abandoned';

/** An event this long pending with no live job is abandoned; its last try's expiry is long past by then. */
const ABANDONED_AFTER_MINUTES = 15;

/**
 * An inbox event's handler records its outcome, a failure on the last try included. A process killed during the last
 * try records nothing: pg-boss fails the expired job without a handler, and the event would stay pending for good.
 * Every ten minutes, events pending that long with no job left to run them are marked failed, so none is lost from
 * view.
 */
@Injectable()
export class AbandonedEvents implements OnApplicationBootstrap {
  private readonly logger = new Logger(AbandonedEvents.name);

  constructor(
    private readonly jobs: JobQueue,
    private readonly dataSource: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduled(FAIL_ABANDONED_EVENTS, '*/10 * * * *', () => this.failAbandoned());
  }

  /** Marks abandoned events failed with the reason; returns how many. */
  async failAbandoned(): Promise<number> {
    const rows = (await this.dataSource.query(
      `UPDATE inbox_events i SET status = 'failed', processed_at = now(),
         status_reason = 'abandoned: its last try stopped without an outcome (the process running it ended)' || COALESCE(' after ' || i.status_reason, '')
       WHERE i.status = 'pending' AND i.received_at < now() - make_interval(mins => $1)
         AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = $2 AND j.state < 'completed' AND j.data->>'inboxId' = i.id::text)
       RETURNING i.id`,
      [ABANDONED_AFTER_MINUTES, PROCESS_INBOX],
    )) as [Array<{ id: string }>, number];
    const count = rows[1];
    if (count) this.logger.error(`${count} inbox event(s) abandoned by a stopped process marked failed: ${rows[0].map((row) => row.id).join(', ')}`);
    return count;
  }
}
