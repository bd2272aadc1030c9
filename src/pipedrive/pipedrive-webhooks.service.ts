import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { hashSecret } from '../common/passwords';
import { type AppConfig, CONFIG } from '../config/app-config';
import type { Installation } from '../installations/installation.entity';
import { InstallationsRepository } from '../installations/installations.repository';
import type { PipedriveWebhook } from './pipedrive.types';
import { InstallationRevokedError, PipedriveApiError } from './pipedrive.errors';
import { PipedriveTokens } from './pipedrive-tokens.service';
import { WebhookSubscription } from './webhook-subscription.entity';

/** The deal events the app listens to. */
export const REQUIRED_WEBHOOKS = [
  { eventObject: 'deal', eventAction: 'create' },
  { eventObject: 'deal', eventAction: 'delete' },
] as const;

export type EnsureOutcome = 'ok' | 'no_installation';

/**
 * Makes a company's Pipedrive webhooks match what the app needs: exactly one per required event, pointing at
 * our receiver with its own random Basic credentials (password kept only as a hash). Serialised per company
 * with an advisory lock; webhooks of ours that we have no record of (a crash between Pipedrive's answer and our
 * commit) are deleted, so re-running never leaves duplicates.
 */
@Injectable()
export class PipedriveWebhooks {
  private readonly logger = new Logger(PipedriveWebhooks.name);

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly installations: InstallationsRepository,
    private readonly tokens: PipedriveTokens,
  ) {}

  get receiverUrl(): string {
    return `${this.config.appUrl}/webhooks/pipedrive`;
  }

  async ensure(companyId: string): Promise<EnsureOutcome> {
    return this.dataSource.transaction(async (lock) => {
      await lock.query(`SELECT pg_advisory_xact_lock(hashtextextended('pipedrive-webhooks:' || $1, 0))`, [companyId]);
      // That transaction only holds the lock: rows are written outside it, so each commits as it is written.
      const db = this.dataSource.manager;
      const local = await db.findBy(WebhookSubscription, { companyId });
      // Pipedrive sends a webhook's events only for what its user may see: an admin sees every deal. Roles change
      // after the install, so the chosen user's is read again; a demoted owner hands the webhooks to an admin.
      const owner = local[0]?.ownerUserId;
      let acting = await this.installations.acting(companyId, owner);
      if (!acting) {
        this.logger.warn(`company ${companyId}: no installed user can manage webhooks`);
        return 'no_installation';
      }
      const { isAdmin } = await this.tokens.apiFor(acting).me();
      if (isAdmin !== acting.isAdmin) {
        await this.installations.setAdmin(acting.id, isAdmin);
        acting = (await this.installations.acting(companyId, owner)) ?? acting;
      }
      const api = this.tokens.apiFor(acting);
      const ours = (await api.webhooks()).filter((hook) => hook.subscriptionUrl === this.receiverUrl);
      const kept = new Set<number>();
      for (const wanted of REQUIRED_WEBHOOKS) {
        const row = local.find((sub) => sub.eventObject === wanted.eventObject && sub.eventAction === wanted.eventAction);
        // A webhook of a user who is no longer the one to own them (demoted, say) is made again for the new owner;
        // the old one is then deleted below as unrecorded.
        if (row && row.ownerUserId === acting.userId && ours.some((hook) => hook.id === Number(row.pipedriveWebhookId))) {
          kept.add(Number(row.pipedriveWebhookId));
          continue;
        }
        const httpAuthUser = `pd-${randomBytes(9).toString('base64url')}`;
        const httpAuthPassword = randomBytes(24).toString('base64url');
        const created = await api.createWebhook({
          ...wanted,
          subscriptionUrl: this.receiverUrl,
          name: `DottedSign contracts: deal ${wanted.eventAction}`,
          httpAuthUser,
          httpAuthPassword,
        });
        kept.add(created.id);
        // Committed at once: Pipedrive delivers with these credentials from now on. An uncommitted row had them
        // answered 401, and a failure of the next create rolled it back, leaving the webhook unknown here.
        await db.query(
          `INSERT INTO webhook_subscriptions (company_id, event_object, event_action, pipedrive_webhook_id, owner_user_id, http_auth_user, password_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (company_id, event_object, event_action) DO UPDATE SET pipedrive_webhook_id = EXCLUDED.pipedrive_webhook_id,
             owner_user_id = EXCLUDED.owner_user_id, http_auth_user = EXCLUDED.http_auth_user, password_hash = EXCLUDED.password_hash, created_at = now()`,
          [companyId, wanted.eventObject, wanted.eventAction, String(created.id), acting.userId, httpAuthUser, hashSecret(httpAuthPassword)],
        );
        this.logger.log(`company ${companyId}: created deal.${wanted.eventAction} webhook ${created.id}`);
      }
      const formerOwners = new Set(local.map((row) => row.ownerUserId).filter((userId) => userId !== acting.userId));
      await this.deleteUnrecorded(companyId, acting, ours, kept, formerOwners);
      return 'ok';
    });
  }

  /**
   * Deletes our webhooks that are not `kept`: those the acting user lists, and, in the pass that moves the webhooks
   * to another user, those their former owners list. Pipedrive removes an app user's webhooks only when that user
   * uninstalls, and it does not document whether one user may list or delete another's. So each webhook is deleted
   * by a user who listed it, or else by the acting user or a former owner; a 404 counts only from a user who listed
   * it (to another user, another's webhook may look absent). One no one may delete is left with a warning: its
   * credentials are no longer stored, so its deliveries get 401 until Pipedrive deletes it after three days without
   * a delivery. The acting user's failures other than a refusal (a rate limit, a 5xx) fail the job once every other
   * candidate has been tried, when a webhook is left; other users' are logged.
   */
  private async deleteUnrecorded(companyId: string, acting: Installation, listed: PipedriveWebhook[], kept: Set<number>, formerOwners: Set<string>): Promise<void> {
    const ours = (hooks: PipedriveWebhook[]) => hooks.filter((hook) => hook.subscriptionUrl === this.receiverUrl && !kept.has(hook.id)).map((hook) => hook.id);
    const listers = new Map<number, Installation[]>();
    const listedBy = (user: Installation, ids: number[]) => ids.forEach((id) => listers.set(id, [...(listers.get(id) ?? []), user]));
    listedBy(acting, ours(listed));
    const formers = (await Promise.all([...formerOwners].map((userId) => this.installations.byUser(companyId, userId)))).filter(
      (installation): installation is Installation => installation !== null && !installation.invalidReason,
    );
    for (const former of formers) {
      try {
        listedBy(former, ours(await this.tokens.apiFor(former).webhooks()));
      } catch (error) {
        this.logger.warn(`company ${companyId}: the webhooks of former owner ${former.userId} could not be listed: ${(error as Error).message}`);
      }
    }
    const left: number[] = [];
    let actingFailure: unknown = null;
    for (const [id, users] of listers) {
      let actingError: unknown = null;
      const candidates = [...users, acting, ...formers].filter((user, index, all) => all.findIndex((other) => other.userId === user.userId) === index);
      let deleted = false;
      for (const user of candidates) {
        try {
          if ((await this.tokens.apiFor(user).deleteWebhook(id)) === 'not_found' && !users.includes(user)) continue;
        } catch (error) {
          if (!isRefusal(error)) {
            if (user === acting) actingError = error;
            this.logger.warn(`company ${companyId}: deleting webhook ${id} as user ${user.userId} failed: ${(error as Error).message}`);
          }
          continue;
        }
        deleted = true;
        this.logger.log(`company ${companyId}: deleted unrecorded webhook ${id}${user === acting ? '' : ` as user ${user.userId}`}`);
        break;
      }
      if (!deleted) {
        left.push(id);
        actingFailure ??= actingError;
      }
    }
    if (left.length && actingFailure) throw actingFailure;
    if (left.length) this.logger.warn(`company ${companyId}: unrecorded webhooks ${left.join(', ')} could not be deleted; their deliveries get 401`);
  }
}

/** Pipedrive will not let this user do it: a 403, or the user's grant is gone. */
function isRefusal(error: unknown): boolean {
  return (error instanceof PipedriveApiError && error.status === 403) || error instanceof InstallationRevokedError;
}
