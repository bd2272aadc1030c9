import { Inject, Injectable, Logger } from '@nestjs/common';
import { SecretBox } from '../common/secret-box';
import { type AppConfig, CONFIG } from '../config/app-config';
import { TransactionRunner } from '../database/transaction-runner';
import { InstallationsRepository } from '../installations/installations.repository';
import { installationToken } from '../installations/sealed-tokens';
import { JobQueue } from '../jobs/job-queue.service';
import { PipedriveClient } from './pipedrive.client';
import type { TokenSet } from './pipedrive.types';
import { ENSURE_WEBHOOKS } from './pipedrive.jobs';

export type UninstallOutcome = { removed: boolean; companyErased: boolean };

/** Installs, uninstalls and disconnects: the lifecycle of a user's install and of the company's data. */
/**
 * Scopes the app cannot work without (`base` is always granted); each entry is satisfied by any of its scopes.
 * A user accepts all of the app's scopes or none, so a token without them means the app's scopes in Developer Hub
 * are wrong: nothing works until they are fixed, and an install that went ahead would fail quietly later.
 */
const REQUIRED_SCOPES: ReadonlyArray<readonly string[]> = [['deals:full'], ['contacts:read', 'contacts:full'], ['admin']];

/** The required scopes a token was not granted, by name. */
export function missingScopes(granted: readonly string[]): string[] {
  return REQUIRED_SCOPES.filter((anyOf) => !anyOf.some((scope) => granted.includes(scope))).map((anyOf) => anyOf[0]);
}

@Injectable()
export class PipedriveInstallService {
  private readonly logger = new Logger(PipedriveInstallService.name);

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly client: PipedriveClient,
    private readonly installations: InstallationsRepository,
    private readonly transactions: TransactionRunner,
    private readonly jobs: JobQueue,
    private readonly box: SecretBox,
  ) {}

  /** Records the install and queues the webhook set-up; returns where to send the browser. */
  async completeInstall(tokens: TokenSet): Promise<{ redirectTo: string; companyId: string }> {
    const fixed = { accessToken: tokens.accessToken, apiDomain: tokens.apiDomain };
    const me = await this.client
      .api({ current: async () => fixed, refreshAfterRejection: async () => fixed })
      .me();
    const companyId = String(me.companyId);
    await this.transactions.run(async (tx) => {
      await this.installations.upsert(tx.manager, {
        companyId,
        companyName: me.companyName,
        companyDomain: me.companyDomain,
        userId: String(me.id),
        userName: me.name,
        isAdmin: me.isAdmin,
        apiDomain: tokens.apiDomain,
        scopes: tokens.scopes,
        sealedAccessToken: this.box.encrypt(tokens.accessToken, installationToken(companyId, String(me.id), 'access_token')),
        sealedRefreshToken: this.box.encrypt(tokens.refreshToken, installationToken(companyId, String(me.id), 'refresh_token')),
        expiresAt: tokens.expiresAt,
      });
      await this.jobs.send(ENSURE_WEBHOOKS, { companyId }, { tx });
    });
    this.logger.log(`company ${companyId}: user ${me.id} installed`);
    return { redirectTo: `${tokens.apiDomain}/settings/marketplace/app/${this.config.pipedrive.clientId}/app-settings`, companyId };
  }

  /**
   * Pipedrive's uninstall notice (or our disconnect): the user's tokens go; with the company's last install
   * the company's data goes too. Pipedrive removed that user's webhooks, so the rest are re-checked. Idempotent.
   */
  async uninstall(companyId: string, userId: string): Promise<UninstallOutcome> {
    return this.transactions.run(async (tx) => {
      // Two users' notices at once would each still see the other's install and erase nothing.
      await this.installations.lockCompany(tx.manager, companyId);
      const { removed, remaining } = await this.installations.remove(tx.manager, companyId, userId);
      if (remaining === 0) {
        await this.installations.eraseCompany(tx.manager, companyId);
        this.logger.log(`company ${companyId}: last user uninstalled, company data erased`);
        return { removed, companyErased: true };
      }
      await tx.manager.query('DELETE FROM webhook_subscriptions WHERE company_id = $1 AND owner_user_id = $2', [companyId, userId]);
      await this.jobs.send(ENSURE_WEBHOOKS, { companyId }, { tx });
      return { removed, companyErased: false };
    });
  }

  /**
   * An admin disconnects from the settings page: revoke the refresh token at Pipedrive, then uninstall. A revoke
   * Pipedrive refuses or does not answer changes nothing here (the caller reports it); the app would otherwise stay
   * installed at Pipedrive with its data gone here.
   */
  async disconnect(companyId: string, userId: string): Promise<UninstallOutcome | 'not_installed' | 'not_admin'> {
    const installation = await this.installations.byUser(companyId, userId);
    if (!installation) return 'not_installed';
    if (!installation.isAdmin) return 'not_admin';
    // Under the refresh lock: a refresh in flight would rotate the token being revoked, and revoking a rotated
    // token uninstalls nothing.
    await this.transactions.run(async (tx) => {
      const current = await this.installations.lockForUpdate(tx.manager, installation.id);
      if (current) await this.client.revoke(this.box.decrypt(current.refreshToken, installationToken(companyId, userId, 'refresh_token')));
    });
    return this.uninstall(companyId, userId);
  }
}
