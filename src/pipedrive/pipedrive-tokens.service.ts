import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RecentValues } from '../common/recent-values';
import { SecretBox } from '../common/secret-box';
import type { Installation } from '../installations/installation.entity';
import { InstallationsRepository } from '../installations/installations.repository';
import { installationToken, type TokenColumn } from '../installations/sealed-tokens';
import { type PipedriveApi, PipedriveClient, type TokenSource } from './pipedrive.client';
import { InstallationRevokedError, PipedriveApiError } from './pipedrive.errors';
import type { TokenSet } from './pipedrive.types';

/** Refresh a little before expiry so a token never dies mid-request. */
const EARLY_REFRESH_MS = 2 * 60 * 1000;
/** How long a process reuses a token it read without looking at the row again (uninstalls show up within this). */
const TOKEN_REUSE_MS = 30 * 1000;

type AccessToken = { accessToken: string; apiDomain: string };

/**
 * Access tokens of installations, refreshed when expired or rejected. A refresh is serialised per
 * installation: in-process by sharing one promise, across processes by a row lock with a re-check, so
 * concurrent callers cause exactly one refresh and nobody presents an already-exchanged refresh token.
 */
@Injectable()
export class PipedriveTokens {
  private readonly logger = new Logger(PipedriveTokens.name);
  private readonly refreshing = new Map<string, Promise<AccessToken>>();
  private readonly recent = new RecentValues<AccessToken>(TOKEN_REUSE_MS);

  constructor(
    private readonly dataSource: DataSource,
    private readonly installations: InstallationsRepository,
    private readonly client: PipedriveClient,
    private readonly box: SecretBox,
  ) {}

  /** The typed API acting as this installation. */
  apiFor(installation: Pick<Installation, 'id'>): PipedriveApi {
    return this.client.api(this.source(installation.id));
  }

  source(installationId: string): TokenSource {
    return {
      current: () => this.current(installationId),
      refreshAfterRejection: (rejected) => {
        this.recent.delete(installationId);
        return this.refresh(installationId, rejected);
      },
    };
  }

  private async current(installationId: string): Promise<AccessToken> {
    const recent = this.recent.get(installationId);
    if (recent) return recent;
    const installation = await this.installations.byId(installationId);
    if (!installation) throw new InstallationRevokedError(installationId, 'uninstalled');
    if (installation.invalidReason) throw new InstallationRevokedError(installationId, installation.invalidReason);
    const usableUntil = installation.expiresAt.getTime() - EARLY_REFRESH_MS;
    const accessToken = this.box.decrypt(installation.accessToken, installationToken(installation.companyId, installation.userId, 'access_token'));
    if (usableUntil <= Date.now()) return this.refresh(installationId, accessToken);
    const token = { accessToken, apiDomain: installation.apiDomain };
    this.recent.set(installationId, token, usableUntil);
    return token;
  }

  private refresh(installationId: string, staleToken: string) {
    const running = this.refreshing.get(installationId);
    if (running) return running;
    const refresh = this.refreshLocked(installationId, staleToken).finally(() => this.refreshing.delete(installationId));
    this.refreshing.set(installationId, refresh);
    return refresh;
  }

  private async refreshLocked(installationId: string, staleToken: string): Promise<AccessToken> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      const row = await this.installations.lockForUpdate(manager, installationId);
      if (!row) throw new InstallationRevokedError(installationId, 'uninstalled');
      if (row.invalidReason) throw new InstallationRevokedError(installationId, row.invalidReason);
      const place = (column: TokenColumn) => installationToken(row.companyId, row.userId, column);
      const current = this.box.decrypt(row.accessToken, place('access_token'));
      if (current !== staleToken && row.expiresAt.getTime() - EARLY_REFRESH_MS > Date.now()) {
        return { accessToken: current, apiDomain: row.apiDomain }; // another caller refreshed meanwhile
      }
      let tokens: TokenSet;
      try {
        tokens = await this.client.refreshTokens(this.box.decrypt(row.refreshToken, place('refresh_token')));
      } catch (error) {
        if (!(error instanceof PipedriveApiError) || error.retryable) throw error;
        // Refused for good (uninstalled or revoked): this install stops acting. Marked under the row's lock, so a
        // reinstall (it waits for the lock, then clears the mark) or a re-seal cannot come between refusal and mark.
        this.logger.warn(`installation ${installationId} can no longer act: ${error.message}`);
        await this.installations.markInvalid(manager, installationId, error.message);
        return new InstallationRevokedError(installationId, error.message);
      }
      await this.installations.saveTokens(manager, installationId, {
        sealedAccessToken: this.box.encrypt(tokens.accessToken, place('access_token')),
        sealedRefreshToken: this.box.encrypt(tokens.refreshToken, place('refresh_token')),
        expiresAt: tokens.expiresAt,
        apiDomain: tokens.apiDomain,
      });
      return { accessToken: tokens.accessToken, apiDomain: tokens.apiDomain };
    });
    if (outcome instanceof InstallationRevokedError) throw outcome;
    return outcome;
  }
}
