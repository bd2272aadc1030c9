import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { JobQueue } from '../jobs/job-queue.service';
import { PipedriveWebhooks } from './pipedrive-webhooks.service';

export const ENSURE_WEBHOOKS = 'pipedrive.ensure-webhooks';
export const WEBHOOK_HEALTH = 'pipedrive.webhook-health';

/** Webhook upkeep: set up after each install, and re-checked every 30 minutes in case Pipedrive deleted them. */
@Injectable()
export class PipedriveJobs implements OnApplicationBootstrap {
  constructor(
    private readonly jobs: JobQueue,
    private readonly webhooks: PipedriveWebhooks,
    private readonly dataSource: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.work<{ companyId: string }>(ENSURE_WEBHOOKS, async (job) => {
      await this.webhooks.ensure(job.data.companyId);
    });
    await this.jobs.scheduled(WEBHOOK_HEALTH, '*/30 * * * *', async () => {
      const companies = (await this.dataSource.query('SELECT id FROM companies ORDER BY id')) as Array<{ id: string }>;
      for (const { id } of companies) await this.jobs.send(ENSURE_WEBHOOKS, { companyId: id });
    });
  }
}
