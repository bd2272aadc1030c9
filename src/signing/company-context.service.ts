import { Injectable } from '@nestjs/common';
import { DottedSignConnections } from '../dottedsign/dottedsign-connections.service';
import type { EsignConnection } from '../dottedsign/esign-connection.entity';
import { type CompanySettings, readSettings } from '../installations/company-settings';
import { InstallationsRepository } from '../installations/installations.repository';
import type { PipedriveApi } from '../pipedrive/pipedrive.client';
import { PipedriveTokens } from '../pipedrive/pipedrive-tokens.service';

export class NoActingInstallationError extends Error {
  constructor(readonly companyId: string) {
    super('No installed Pipedrive user can act for this company (reinstall the app as an admin)');
  }
}

export interface CompanyContextValue {
  companyId: string;
  settings: CompanySettings;
  connection: EsignConnection | null;
}

/** What background work needs about a company: its settings, its e-sign connection and who acts in Pipedrive. */
@Injectable()
export class CompanyContext {
  constructor(
    private readonly installations: InstallationsRepository,
    private readonly connections: DottedSignConnections,
    private readonly tokens: PipedriveTokens,
  ) {}

  /** null when the company is not installed (any more). */
  async load(companyId: string): Promise<CompanyContextValue | null> {
    const company = await this.installations.company(companyId);
    if (!company) return null;
    return { companyId, settings: readSettings(company.settings), connection: await this.connections.get(companyId) };
  }

  /**
   * Pipedrive as `asUser` (a panel action), else as the user who connected the e-sign account, else the most
   * recently refreshed admin.
   */
  async pipedrive(context: CompanyContextValue, asUser?: string | null): Promise<PipedriveApi> {
    const acting = await this.installations.acting(context.companyId, asUser ?? context.connection?.connectedByUserId);
    if (!acting) throw new NoActingInstallationError(context.companyId);
    return this.tokens.apiFor(acting);
  }
}
