import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RecentValues } from '../common/recent-values';
import { isForeignKeyViolation } from '../database/postgres-errors';
import { SecretBox } from '../common/secret-box';
import { connectionToken } from '../installations/sealed-tokens';
import type { ProviderSession } from '../signing/esign-provider.port';
import { ProviderError } from '../signing/esign-provider.port';
import { DottedSignClient, type DottedSignTokens } from './dottedsign.client';
import { EsignConnection } from './esign-connection.entity';

const EARLY_REFRESH_MS = 2 * 60 * 1000;
/** How long a process reuses a token it read without looking at the row again (a disconnect shows up within this). */
const TOKEN_REUSE_MS = 30 * 1000;

/** The company was erased (its last user uninstalled) while its DottedSign connection was being made. */
export class CompanyGoneError extends Error {
  constructor(readonly companyId: string) {
    super('The app is no longer installed in this Pipedrive company');
  }
}

export class NotConnectedError extends Error {
  constructor(readonly companyId: string) {
    super('DottedSign is not connected for this company');
  }
}

/**
 * Companies' DottedSign connections and sessions on them. Token refresh is serialised like Pipedrive's:
 * one in-process promise per company, and a row lock with a re-check across processes.
 */
@Injectable()
export class DottedSignConnections {
  private readonly logger = new Logger(DottedSignConnections.name);
  private readonly refreshing = new Map<string, Promise<string>>();
  private readonly recent = new RecentValues<string>(TOKEN_REUSE_MS);

  constructor(
    private readonly dataSource: DataSource,
    private readonly client: DottedSignClient,
    private readonly box: SecretBox,
  ) {}

  get(companyId: string): Promise<EsignConnection | null> {
    return this.dataSource.getRepository(EsignConnection).findOneBy({ companyId });
  }

  /** Stores the company's connection; `CompanyGoneError` when the company was erased since the caller checked it. */
  async connect(companyId: string, userId: string, mode: EsignConnection['mode'], tokens: DottedSignTokens): Promise<EsignConnection> {
    await this.store(companyId, userId, mode, tokens).catch((error: unknown) => {
      throw isForeignKeyViolation(error) ? new CompanyGoneError(companyId) : error;
    });
    this.recent.delete(companyId);
    return (await this.get(companyId))!;
  }

  private async store(companyId: string, userId: string, mode: EsignConnection['mode'], tokens: DottedSignTokens): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO esign_connections (company_id, provider, mode, account_email, access_token, refresh_token, expires_at, connected_by_user_id)
       VALUES ($1, 'dottedsign', $2, $3, $4, $5, $6, $7)
       ON CONFLICT (company_id) DO UPDATE SET mode = EXCLUDED.mode, account_email = EXCLUDED.account_email,
         access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at,
         connected_by_user_id = EXCLUDED.connected_by_user_id, reconnect_required_at = NULL, updated_at = now()`,
      [
        companyId,
        mode,
        tokens.accountEmail,
        this.box.encrypt(tokens.accessToken, connectionToken(companyId, 'access_token')),
        tokens.refreshToken ? this.box.encrypt(tokens.refreshToken, connectionToken(companyId, 'refresh_token')) : null,
        tokens.expiresAt,
        userId,
      ],
    );
  }

  async disconnect(companyId: string): Promise<boolean> {
    this.recent.delete(companyId);
    const result = await this.dataSource.getRepository(EsignConnection).delete({ companyId });
    return (result.affected ?? 0) > 0;
  }

  /** A session acting as the company's connected account; throws NotConnectedError when there is none. */
  async session(companyId: string): Promise<ProviderSession> {
    if (!this.recent.get(companyId) && !(await this.get(companyId))) throw new NotConnectedError(companyId);
    return {
      accessToken: () => this.current(companyId),
      refreshAfterRejection: (rejected) => {
        this.recent.delete(companyId);
        return this.refresh(companyId, rejected);
      },
    };
  }

  private async current(companyId: string): Promise<string> {
    const recent = this.recent.get(companyId);
    if (recent) return recent;
    const connection = await this.get(companyId);
    if (!connection?.accessToken) throw new NotConnectedError(companyId);
    const token = this.box.decrypt(connection.accessToken, connectionToken(companyId, 'access_token'));
    const usableUntil = (connection.expiresAt?.getTime() ?? 0) - EARLY_REFRESH_MS;
    if (usableUntil <= Date.now()) return this.refresh(companyId, token);
    this.recent.set(companyId, token, usableUntil);
    return token;
  }

  private refresh(companyId: string, stale: string): Promise<string> {
    const running = this.refreshing.get(companyId);
    if (running) return running;
    const refresh = this.refreshLocked(companyId, stale).finally(() => this.refreshing.delete(companyId));
    this.refreshing.set(companyId, refresh);
    return refresh;
  }

  private async refreshLocked(companyId: string, stale: string): Promise<string> {
    const outcome = await this.dataSource.transaction(async (manager): Promise<{ token: string } | { refused: ProviderError }> => {
      const row = await manager.getRepository(EsignConnection).findOne({ where: { companyId }, lock: { mode: 'pessimistic_write' } });
      if (!row?.accessToken) throw new NotConnectedError(companyId);
      const current = this.box.decrypt(row.accessToken, connectionToken(companyId, 'access_token'));
      if (current !== stale && row.expiresAt && row.expiresAt.getTime() - EARLY_REFRESH_MS > Date.now()) return { token: current };
      let tokens: DottedSignTokens;
      try {
        if (row.mode === 'client_credentials') tokens = await this.client.clientCredentials();
        else if (row.refreshToken) tokens = await this.client.refresh(this.box.decrypt(row.refreshToken, connectionToken(companyId, 'refresh_token')));
        else throw new ProviderError('DottedSign connection has no refresh token; reconnect it', 'reconnect_required', false);
      } catch (error) {
        if (!refusedForGood(error)) throw error;
        // Under the row lock: a reconnect waits for this and then clears it; one that came first was seen above.
        await manager.update(EsignConnection, { companyId }, { reconnectRequiredAt: row.reconnectRequiredAt ?? new Date() });
        return { refused: error };
      }
      await manager.update(EsignConnection, { companyId }, {
        accessToken: this.box.encrypt(tokens.accessToken, connectionToken(companyId, 'access_token')),
        refreshToken: tokens.refreshToken ? this.box.encrypt(tokens.refreshToken, connectionToken(companyId, 'refresh_token')) : row.refreshToken,
        expiresAt: tokens.expiresAt,
        reconnectRequiredAt: null,
      });
      return { token: tokens.accessToken };
    });
    if ('token' in outcome) return outcome.token;
    const { refused } = outcome;
    this.logger.warn(`DottedSign refused the stored authorization of company ${companyId} (${refused.key}): it has to be reconnected`);
    // One key for every such refusal, so callers show "reconnect DottedSign" whatever DottedSign called it.
    throw refused.key === 'reconnect_required'
      ? refused
      : new ProviderError(`DottedSign refused the stored authorization (${refused.key}); reconnect DottedSign in the app settings`, 'reconnect_required', false, refused.status);
  }
}

/** A 4xx from the token endpoint (invalid_grant, invalid_client, …) does not get better by retrying; 429 and 5xx might. */
function refusedForGood(error: unknown): error is ProviderError {
  if (!(error instanceof ProviderError) || error.retryable) return false;
  return error.key === 'reconnect_required' || (error.status !== null && error.status >= 400 && error.status < 500);
}
