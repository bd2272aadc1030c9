import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Batcher } from '../common/batcher';
import { arrayParam } from '../database/array-param';
import type { EsignConnection } from '../dottedsign/esign-connection.entity';
import { type CompanySettings, readSettings } from '../installations/company-settings';
import { InstallationsRepository } from '../installations/installations.repository';
import type { PipedriveApi } from '../pipedrive/pipedrive.client';
import { PipedriveTokens } from '../pipedrive/pipedrive-tokens.service';

export class NoActingInstallationError extends Error {
  /** `userId`: the one user who had to act (a panel action), whose authorization is gone. */
  constructor(
    readonly companyId: string,
    readonly userId?: string,
  ) {
    super(
      userId
        ? `Pipedrive user ${userId} no longer authorizes the app: they need to reinstall it`
        : 'No installed Pipedrive user can act for this company (reinstall the app as an admin)',
    );
  }
}

interface ContextRow {
  id: string;
  settings: Record<string, unknown>;
  connected: boolean;
  connected_by_user_id: string | null;
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

  /** Loads that start while one is in flight share the next round trip: under load, jobs of many deals start together. */
  private readonly loads = new Batcher<string, ContextRow | undefined>((companyIds) => this.readBatch(companyIds), { maxBatch: 200, maxInFlight: 1 });

  /** null when the company is not installed (any more). Every job of a deal starts here. */
  async load(companyId: string): Promise<CompanyContextValue | null> {
    const row = await this.loads.add(companyId);
    if (!row) return null;
    return {
      companyId,
      settings: readSettings(row.settings),
      connection: row.connected ? { connectedByUserId: row.connected_by_user_id === null ? null : String(row.connected_by_user_id) } : null,
    };
  }

  private async readBatch(companyIds: string[]): Promise<Array<ContextRow | undefined>> {
    // A malformed id must not fail the other callers' loads; it simply finds no company.
    const ids = arrayParam(1, 'bigint', companyIds.filter((id) => /^\d{1,18}$/.test(id)));
    const rows = (await this.dataSource.query(
      `SELECT c.id, c.settings, e.company_id IS NOT NULL AS connected, e.connected_by_user_id
       FROM companies c LEFT JOIN esign_connections e ON e.company_id = c.id WHERE c.id = ANY(${ids.sql})`,
      [ids.value],
    )) as ContextRow[];
    const byId = new Map(rows.map((row) => [String(row.id), row]));
    return companyIds.map((id) => byId.get(id));
  }

  /** Pipedrive for background work: as the user who connected the e-sign account while they are an admin, else another admin (`InstallationsRepository.acting`). */
  async pipedrive(context: CompanyContextValue): Promise<PipedriveApi> {
    const acting = await this.installations.acting(context.companyId, context.connection?.connectedByUserId);
    if (!acting) throw new NoActingInstallationError(context.companyId);
    return this.tokens.apiFor(acting);
  }

  /**
   * Pipedrive as this user only, for what a user asked for in the panel: Pipedrive shows each user the deals they may
   * see, so no other user's token (an admin's above all) stands in when theirs is gone.
   */
  async pipedriveAsUser(companyId: string, userId: string): Promise<PipedriveApi> {
    const own = await this.installations.byUser(companyId, userId);
    if (!own || own.invalidReason) throw new NoActingInstallationError(companyId, userId);
    return this.tokens.apiFor(own);
  }
}
