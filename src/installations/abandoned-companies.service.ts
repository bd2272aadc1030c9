import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TransactionRunner } from '../database/transaction-runner';
import { JobQueue } from '../jobs/job-queue.service';
import { InstallationsRepository, REFRESH_TOKEN_UNUSED_DAYS } from './installations.repository';

export const ERASE_ABANDONED_COMPANIES = 'installations.erase-abandoned';

/** How long a company whose every installation Pipedrive refused keeps its data: time for one of its users to reinstall. */
export const ABANDONED_AFTER_DAYS = 30;

/**
 * Installations that keep their company: ones that can act, and ones that stopped less than the grace period ago,
 * refused by Pipedrive or lapsed (a refresh token unused for ${REFRESH_TOKEN_UNUSED_DAYS} days has expired).
 */
const KEEPS_COMPANY = `EXISTS (SELECT 1 FROM installations i WHERE i.company_id = c.id AND CASE
  WHEN i.invalid_reason IS NULL THEN i.refreshed_at > now() - make_interval(days => ${REFRESH_TOKEN_UNUSED_DAYS} + $1)
  ELSE i.invalid_since IS NULL OR i.invalid_since > now() - make_interval(days => $1) END)`;

/**
 * Pipedrive sends an uninstall notice once; a company whose users' notices were all lost (or whose users all stopped
 * authorizing the app) is never uninstalled by one, and nobody can act for it: its settings, DottedSign tokens and
 * contracts would stay for good. A daily job erases such a company once its last working installation has been
 * refused for the grace period, as an uninstall of its last user would have.
 */
@Injectable()
export class AbandonedCompanies implements OnApplicationBootstrap {
  private readonly logger = new Logger(AbandonedCompanies.name);

  constructor(
    private readonly jobs: JobQueue,
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly installations: InstallationsRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduled(ERASE_ABANDONED_COMPANIES, '41 3 * * *', () => this.erase());
  }

  /** Erases the abandoned companies; answers their ids. */
  async erase(): Promise<string[]> {
    const candidates = (await this.dataSource.query(`SELECT c.id FROM companies c WHERE NOT ${KEEPS_COMPANY}`, [ABANDONED_AFTER_DAYS])) as Array<{ id: string }>;
    const erased: string[] = [];
    for (const { id } of candidates) {
      const gone = await this.transactions.run(async (tx) => {
        // Under the company's lock, as an install and an uninstall take it: a reinstall since the selection keeps it.
        await this.installations.lockCompany(tx.manager, id);
        const [row] = (await tx.manager.query(`SELECT NOT ${KEEPS_COMPANY} AS abandoned FROM companies c WHERE c.id = $2`, [ABANDONED_AFTER_DAYS, id])) as Array<{ abandoned: boolean }>;
        if (!row?.abandoned) return false;
        await this.installations.eraseCompany(tx.manager, id);
        return true;
      });
      if (gone) erased.push(String(id));
    }
    if (erased.length) this.logger.log(`erased ${erased.length} companies no installed user could act for since ${ABANDONED_AFTER_DAYS} days: ${erased.join(', ')}`);
    return erased;
  }
}
