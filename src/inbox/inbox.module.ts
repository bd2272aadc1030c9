import { Global, Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { type AppConfig, CONFIG } from '../config/app-config';
import { JobQueue } from '../jobs/job-queue.service';
import { AbandonedEvents } from './abandoned-events.service';
import { InboxRetention } from './inbox-retention.service';
import { InboxService, PROCESS_INBOX } from './inbox.service';

@Global()
@Module({ providers: [InboxService, InboxRetention, AbandonedEvents], exports: [InboxService] })
export class InboxModule implements OnApplicationBootstrap {
  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobQueue,
    private readonly inbox: InboxService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // A SIGKILLed worker's job comes back after this (see docs/decisions.md, "Inbox jobs expire after 60 s").
    await this.jobs.define(PROCESS_INBOX, { expireInSeconds: 60 });
    await this.jobs.work<{ inboxId: string }>(PROCESS_INBOX, (job) => this.inbox.process(job), { concurrency: this.config.inboxWorkers });
  }
}
