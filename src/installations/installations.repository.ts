import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { Batcher } from '../common/batcher';
import { companyLockSql, idLiteral } from '../database/advisory-locks';
import { arrayParams } from '../database/array-param';
import { entityRows } from '../database/entity-rows';
import { Company } from './company.entity';
import { Installation } from './installation.entity';

export interface InstallationRecord {
  companyId: string;
  companyName: string;
  companyDomain: string;
  userId: string;
  userName: string;
  isAdmin: boolean;
  apiDomain: string;
  scopes: string[];
  sealedAccessToken: string;
  sealedRefreshToken: string;
  expiresAt: Date;
}

/** Pipedrive's refresh tokens expire after 60 days unused (each refresh extends them): an install not refreshed for longer cannot act. */
export const REFRESH_TOKEN_UNUSED_DAYS = 60;

/** A user's install as the panel needs it (`userAccess`). */
export interface UserAccess {
  settings: Record<string, unknown>;
  isAdmin: boolean;
  authorized: boolean;
}

/** Every panel request's read (`userAccess`); exported for the benchmark that shows its plan. */
export const USER_ACCESS =
  'SELECT c.settings, i.is_admin, i.invalid_reason IS NULL AS authorized FROM installations i JOIN companies c ON c.id = i.company_id WHERE i.company_id = $1 AND i.user_id = $2';

@Injectable()
export class InstallationsRepository {
  private readonly toInstallations: (rows: Array<Record<string, unknown>>) => Installation[];
  /** Lookups that start while one is in flight share the next round trip: under load a company's jobs start together. */
  private readonly actingReads = new Batcher<{ companyId: string; preferredUserId: string | null }, Installation | null>((keys) => this.readActing(keys), {
    maxBatch: 200,
    maxInFlight: 1,
  });

  constructor(
    @InjectRepository(Installation) private readonly installations: Repository<Installation>,
    @InjectRepository(Company) private readonly companies: Repository<Company>,
  ) {
    this.toInstallations = entityRows(installations.manager.dataSource, Installation);
  }

  async upsert(manager: EntityManager, record: InstallationRecord): Promise<Installation> {
    await manager.query(
      `INSERT INTO companies (id, name, domain) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, domain = EXCLUDED.domain, updated_at = now()`,
      [record.companyId, record.companyName, record.companyDomain],
    );
    const [row] = (await manager.query(
      `INSERT INTO installations (company_id, user_id, user_name, is_admin, api_domain, scopes, access_token, refresh_token, expires_at, refreshed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
       ON CONFLICT (company_id, user_id) DO UPDATE SET
         user_name = EXCLUDED.user_name, is_admin = EXCLUDED.is_admin, api_domain = EXCLUDED.api_domain,
         scopes = EXCLUDED.scopes, access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,
         expires_at = EXCLUDED.expires_at, refreshed_at = now(), invalid_reason = NULL, invalid_since = NULL
       RETURNING id`,
      [
        record.companyId,
        record.userId,
        record.userName,
        record.isAdmin,
        record.apiDomain,
        record.scopes,
        record.sealedAccessToken,
        record.sealedRefreshToken,
        record.expiresAt,
      ],
    )) as Array<{ id: string }>;
    return manager.findOneByOrFail(Installation, { id: row.id });
  }

  byId(id: string): Promise<Installation | null> {
    return this.installations.findOneBy({ id });
  }

  byUser(companyId: string, userId: string): Promise<Installation | null> {
    return this.installations.findOneBy({ companyId, userId });
  }

  /**
   * The company's settings and the user's role when the app is installed for that user, in one round trip.
   * `authorized`: Pipedrive still accepts the user's tokens (a refused refresh marks them invalid until a reinstall).
   */
  async userAccess(companyId: string, userId: string): Promise<UserAccess | null> {
    const [row] = (await this.installations.query(USER_ACCESS, [companyId, userId])) as Array<{ settings: Record<string, unknown>; is_admin: boolean; authorized: boolean }>;
    return row ? { settings: row.settings, isAdmin: row.is_admin, authorized: row.authorized } : null;
  }

  company(id: string): Promise<Company | null> {
    return this.companies.findOneBy({ id });
  }

  /** The row, locked until the transaction ends: how concurrent refreshes across processes become one. */
  lockForUpdate(manager: EntityManager, id: string): Promise<Installation | null> {
    return manager.getRepository(Installation).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async saveTokens(manager: EntityManager, id: string, tokens: { sealedAccessToken: string; sealedRefreshToken: string; expiresAt: Date; apiDomain: string }) {
    await manager.update(Installation, { id }, {
      accessToken: tokens.sealedAccessToken,
      refreshToken: tokens.sealedRefreshToken,
      expiresAt: tokens.expiresAt,
      apiDomain: tokens.apiDomain,
      refreshedAt: new Date(),
      invalidReason: null,
      invalidSince: null,
    });
  }

  /** Pipedrive refused the install's refresh token for good; under the caller's row lock (see `PipedriveTokens`). */
  async markInvalid(manager: EntityManager, id: string, reason: string): Promise<void> {
    await manager.query('UPDATE installations SET invalid_reason = $2, invalid_since = COALESCE(invalid_since, now()) WHERE id = $1', [id, reason]);
  }

  /**
   * Who acts for the company in background work: the preferred user's install while they are an admin (as when they
   * connected DottedSign or set up the webhooks), else the most recently refreshed admin install that can act, else
   * the preferred user's. An admin sees every deal; a demoted user may not see the deal the work is about.
   */
  acting(companyId: string, preferredUserId?: string | null): Promise<Installation | null> {
    return this.actingReads.add({ companyId, preferredUserId: preferredUserId ?? null });
  }

  private async readActing(keys: Array<{ companyId: string; preferredUserId: string | null }>): Promise<Array<Installation | null>> {
    // A malformed id must not fail the other callers' lookups: as NULL it matches no install.
    const id = (value: string | null) => (value && /^\d{1,18}$/.test(value) ? value : null);
    const columns = arrayParams(1, [
      ['bigint', keys.map((key) => id(key.companyId))],
      ['bigint', keys.map((key) => id(key.preferredUserId))],
    ]);
    const rows = (await this.installations.query(
      `SELECT DISTINCT ON (k.n) k.n, i.* FROM unnest(${columns.sql}) WITH ORDINALITY AS k (company_id, user_id, n)
       JOIN installations i ON i.company_id = k.company_id AND i.invalid_reason IS NULL AND (i.user_id = k.user_id OR i.is_admin)
       ORDER BY k.n, i.is_admin DESC, i.user_id = k.user_id DESC, i.refreshed_at DESC`,
      columns.values,
    )) as Array<Record<string, unknown> & { n: string }>;
    const installations = this.toInstallations(rows);
    const byKey = new Map(rows.map((row, index) => [Number(row.n), installations[index]]));
    return keys.map((_key, index) => byKey.get(index + 1) ?? null);
  }

  async setAdmin(installationId: string, isAdmin: boolean): Promise<void> {
    await this.installations.update({ id: installationId }, { isAdmin });
  }

  /**
   * Until the transaction ends, installs and uninstalls of the company wait: its installs are counted after. Its
   * deal work under way ends first, and deal work waits (see `advisory-locks`): an erase follows the sends before it.
   */
  async lockCompany(manager: EntityManager, companyId: string): Promise<void> {
    await manager.query(`${companyLockSql(companyId, 'whole')}; SELECT 1 FROM companies WHERE id = ${idLiteral(companyId)} FOR UPDATE`);
  }

  async remove(manager: EntityManager, companyId: string, userId: string): Promise<{ removed: boolean; remaining: number }> {
    const deleted = await manager.delete(Installation, { companyId, userId });
    // An install Pipedrive refused for good, or whose refresh token lapsed unused (its user's uninstall notice lost,
    // say), acts for nobody: it keeps nothing.
    const [{ remaining }] = (await manager.query(
      `SELECT count(*)::int AS remaining FROM installations
       WHERE company_id = $1 AND invalid_reason IS NULL AND refreshed_at > now() - make_interval(days => $2)`,
      [companyId, REFRESH_TOKEN_UNUSED_DAYS],
    )) as Array<{ remaining: number }>;
    return { removed: (deleted.affected ?? 0) > 0, remaining };
  }

  /** Erases everything the app keeps about a company; child tables cascade from companies. */
  async eraseCompany(manager: EntityManager, companyId: string): Promise<void> {
    await manager.query('DELETE FROM inbox_events WHERE company_id = $1', [companyId]);
    await manager.query('DELETE FROM companies WHERE id = $1', [companyId]);
  }
}
