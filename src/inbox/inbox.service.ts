import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { Batcher } from '../common/batcher';
import { boundedKey } from '../common/bounded-key';
import { arrayParam, arrayParams } from '../database/array-param';
import { entityRows } from '../database/entity-rows';
import { isDataException } from '../database/postgres-errors';
import { type Job, JOB_COMPLETED, JobQueue, type StartedJobRow } from '../jobs/job-queue.service';
import { InboxEvent, type InboxSource, type InboxStatus } from './inbox-event.entity';

export interface IncomingEvent {
  source: InboxSource;
  dedupeKey: string;
  eventType: string;
  companyId: string | null;
  payload: unknown;
}

export type AcceptOutcome = 'accepted' | 'duplicate' | 'company-gone';

export type Outcome = { status: Exclude<InboxStatus, 'pending' | 'failed'>; reason?: string };

export const PROCESS_INBOX = 'inbox.process';

/** How an event's processing ended, as written to its row. */
interface RecordedOutcome {
  id: string;
  status: InboxStatus;
  reason: string | null;
  /** The job completed with the outcome; null when the job's own failure is recorded by the queue. */
  jobId: string | null;
}

interface AcceptedRow {
  source: string | null;
  dedupe_key: string | null;
  gone_company_id: string | null;
  started_job: StartedJobRow | null;
}

/** `finalAttempt`: the job will not be retried after this try, so a handler can record a visible failure. */
export type InboxHandler = (event: InboxEvent, attempt: { finalAttempt: boolean }) => Promise<Outcome>;

/**
 * Webhooks in: a delivery is stored under its dedupe key and its job enqueued in the same statement, so an
 * accepted event is never lost and a redelivery does nothing. Processing marks every event processed, ignored
 * or failed with a reason.
 */
@Injectable()
export class InboxService {
  private readonly logger = new Logger(InboxService.name);
  private readonly handlers = new Map<string, InboxHandler>();
  private readonly accepts = new Batcher<IncomingEvent, AcceptOutcome>((events) => this.acceptBatch(events), {
    maxBatch: 200,
    maxInFlight: 2,
    isolate: isDataException,
  });
  /** Events whose jobs start at the same time are read together. */
  private readonly reads = new Batcher<string, InboxEvent | null>((ids) => this.readBatch(ids), { maxBatch: 200, maxInFlight: 1 });
  /** Outcomes of events handled at the same time are recorded together, and their jobs completed. */
  private readonly finishes = new Batcher<RecordedOutcome, void>((outcomes) => this.finishBatch(outcomes), {
    maxBatch: 200,
    maxInFlight: 1,
  });

  private readonly toEvents: (rows: Array<Record<string, unknown>>) => InboxEvent[];

  constructor(
    private readonly jobs: JobQueue,
    private readonly dataSource: DataSource,
  ) {
    this.toEvents = entityRows(dataSource, InboxEvent);
  }

  /**
   * Stores the event and enqueues its job; resolves once both are committed. Concurrent deliveries share one
   * statement (see Batcher), which is what lets the receiver keep up with bursts. An event of a company that is no
   * longer installed (uninstalled while its webhook credentials were still remembered, or its tasks' events arriving
   * after) is not stored: `company-gone`.
   */
  async accept(event: IncomingEvent): Promise<AcceptOutcome> {
    try {
      return await this.accepts.add({ ...event, dedupeKey: boundedKey(event.dedupeKey) });
    } catch (error) {
      // Retrying the same delivery would fail the same way: tell the sender, as for any other bad input.
      if (isDataException(error)) {
        // The database's words stay in the log: they describe our schema, which is no business of the sender's.
        this.logger.warn(`${event.source} event ${event.eventType} refused, it cannot be stored: ${(error as Error).message.slice(0, 200)}`);
        throw ApiError.badRequest('The event cannot be stored: one of its values is out of range or malformed');
      }
      throw error;
    }
  }

  /**
   * One statement: the rows and their jobs commit together, and a redelivery (the same key) adds neither. As many
   * jobs as this process's worker has free slots are inserted started, and run here without a fetch.
   */
  private async acceptBatch(events: IncomingEvent[]): Promise<AcceptOutcome[]> {
    const columns = arrayParams(1, [
      ['text', events.map((event) => event.source)],
      ['text', events.map((event) => event.dedupeKey)],
      ['text', events.map((event) => event.eventType)],
      ['bigint', events.map((event) => event.companyId)],
      ['jsonb', events.map((event) => JSON.stringify(event.payload))],
    ]);
    const reservation = this.jobs.reserve(PROCESS_INBOX, events.length);
    let rows: AcceptedRow[] = [];
    try {
      rows = (await this.dataSource.query(
        `WITH incoming AS (
           SELECT * FROM unnest(${columns.sql}) AS e (source, dedupe_key, event_type, company_id, payload)
         ), gone AS (
           SELECT DISTINCT company_id FROM incoming e WHERE company_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM companies c WHERE c.id = e.company_id)
         ), inserted AS (
           INSERT INTO inbox_events (source, dedupe_key, event_type, company_id, payload)
           SELECT * FROM incoming WHERE company_id IS NULL OR company_id NOT IN (SELECT company_id FROM gone)
           ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id, source, dedupe_key
         ), jobs AS (
           ${this.jobs.insertJobsFrom(`(SELECT jsonb_build_object('inboxId', id::text) AS data FROM inserted)`, '$6::text', '$7::int')}
         )
         SELECT source, dedupe_key, NULL AS gone_company_id, NULL::jsonb AS started_job FROM inserted
         UNION ALL SELECT NULL, NULL, company_id::text, NULL FROM gone
         UNION ALL SELECT NULL, NULL, NULL, to_jsonb(jobs) FROM jobs WHERE state = 'active'`,
        [...columns.values, PROCESS_INBOX, reservation.slots],
      )) as AcceptedRow[];
    } finally {
      reservation.start(rows.flatMap((row) => (row.started_job ? [row.started_job] : [])));
    }
    const stored = rows.filter((row) => row.source !== null);
    if (stored.length > reservation.slots) this.jobs.enqueued(PROCESS_INBOX);
    const gone = new Set(rows.flatMap((row) => (row.gone_company_id ? [row.gone_company_id] : [])));
    // The same delivery twice in one batch: the first caller is the one that stored it.
    const inserted = new Set(stored.map((row) => `${row.source}\u0000${row.dedupe_key}`));
    return events.map((event) => {
      if (event.companyId !== null && gone.has(String(event.companyId))) return 'company-gone';
      return inserted.delete(`${event.source}\u0000${event.dedupeKey}`) ? 'accepted' : 'duplicate';
    });
  }

  /** Registers the handler of one `source:eventType`; unregistered types are marked ignored. */
  handle(source: InboxSource, eventType: string, handler: InboxHandler): void {
    this.handlers.set(`${source}:${eventType}`, handler);
  }

  async process(job: Job<{ inboxId: string }>): Promise<void | typeof JOB_COMPLETED> {
    const event = await this.reads.add(job.data.inboxId);
    if (!event || event.status !== 'pending') return;
    const handler = this.handlers.get(`${event.source}:${event.eventType}`);
    try {
      const outcome = handler ? await handler(event, { finalAttempt: job.retryCount >= job.retryLimit }) : { status: 'ignored' as const, reason: `no handler for ${event.eventType}` };
      await this.finish(event.id, outcome.status, outcome.reason ?? null, job.id);
      return JOB_COMPLETED;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (job.retryCount >= job.retryLimit) {
        this.logger.error(`inbox event ${event.id} (${event.source} ${event.eventType}) failed for good: ${reason}`);
        await this.finish(event.id, 'failed', reason, null);
      } else {
        await this.dataSource.query('UPDATE inbox_events SET status_reason = $2 WHERE id = $1', [event.id, `retrying: ${reason}`]);
      }
      throw error;
    }
  }

  private async readBatch(ids: string[]): Promise<Array<InboxEvent | null>> {
    const idsParam = arrayParam(1, 'bigint', ids);
    const events = this.toEvents(await this.dataSource.query(`SELECT * FROM inbox_events WHERE id = ANY(${idsParam.sql})`, [idsParam.value]));
    const byId = new Map(events.map((event) => [event.id, event]));
    return ids.map((id) => byId.get(String(id)) ?? null);
  }

  private finish(id: string, status: InboxStatus, reason: string | null, jobId: string | null): Promise<void> {
    return this.finishes.add({ id, status, reason, jobId });
  }

  /** One statement: the outcomes and the completion of their jobs commit together. */
  private async finishBatch(outcomes: RecordedOutcome[]): Promise<void[]> {
    const columns = arrayParams(1, [
      ['bigint', outcomes.map((outcome) => outcome.id)],
      ['text', outcomes.map((outcome) => outcome.status)],
      ['text', outcomes.map((outcome) => outcome.reason)],
    ]);
    const jobIds = arrayParam(4, 'uuid', outcomes.flatMap((outcome) => (outcome.jobId ? [outcome.jobId] : [])));
    await this.dataSource.query(
      `WITH finished AS (
         UPDATE inbox_events AS i SET status = o.status, status_reason = o.reason, processed_at = now()
         FROM unnest(${columns.sql}) AS o (id, status, reason) WHERE i.id = o.id
       )
       ${this.jobs.completeJobs(jobIds.sql, PROCESS_INBOX)}`,
      [...columns.values, jobIds.value],
    );
    return outcomes.map(() => undefined);
  }
}
