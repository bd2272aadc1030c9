import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
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
  /** The company's e-sign connection, if any: who connected it acts in Pipedrive by default. */
  connection: Pick<EsignConnection, 'connectedByUserId'> | null;
}

/** What background work needs about a company: its settings, its e-sign connection and who acts in Pipedrive. */
@Injectable()
export class CompanyContext {
  constructor(
    private readonly installations: InstallationsRepository,
    private readonly dataSource: DataSource,
    private readonly tokens: PipedriveTokens,
  ) {}

  /** null when the company is not installed (any more). One round trip: every job of a deal starts here. */
  async load(companyId: string): Promise<CompanyContextValue | null> {
    const [row] = (await this.dataSource.query(
      `SELECT c.settings, e.company_id IS NOT NULL AS connected, e.connected_by_user_id
       FROM companies c LEFT JOIN esign_connections e ON e.company_id = c.id WHERE c.id = $1`,
      [companyId],
    )) as Array<{ settings: Record<string, unknown>; connected: boolean; connected_by_user_id: string | null }>;
    if (!row) return null;
    return {
      companyId,
      settings: readSettings(row.settings),
      connection: row.connected ? { connectedByUserId: row.connected_by_user_id === null ? null : String(row.connected_by_user_id) } : null,
    };
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
