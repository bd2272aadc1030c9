import { randomUUID } from 'node:crypto';
import { DEFAULT_LOG_LIMIT, LatestEntries } from '../kit/latest-entries';
import { WebhookDispatcher } from '../kit/webhook-dispatcher';
import type { WebhookAttempt, WebhookDelivery } from '../kit/webhook-dispatcher';
import { basicAuthHeader } from './basic-auth';
import { visibleTo } from './deal-records';
import type { EntityEvent } from './entity-events';
import type { Webhook } from './pipedrive.entities';
import { TIMINGS } from './platform-facts';
import type { SimulatorStore } from './simulator-store';
import { scaled } from './time-scale';
import { stampAttempt, webhookPayload } from './webhook-payloads';

export interface LostEvent {
  webhookId: number;
  eventId: string;
  object: string;
  action: string;
  entityId: number;
  attempt: number;
  reason: 'banned' | 'deleted';
  at: string;
}

interface DeliveryMeta {
  webhookId: number;
  eventId: string;
  object: string;
  action: string;
  entityId: number;
}

/**
 * Pipedrive's webhook rules on top of the kit's dispatcher: which webhooks an event goes to, the payload per
 * attempt, the ban after consecutive first-attempt failures (events meanwhile are lost), and deletion after
 * days without a successful delivery.
 */
export class WebhookPublisher {
  readonly dispatcher: WebhookDispatcher;
  private readonly lost: LatestEntries<LostEvent>;

  constructor(
    private readonly store: SimulatorStore,
    private readonly timeScale: number,
    logLimit = DEFAULT_LOG_LIMIT,
  ) {
    this.lost = new LatestEntries(logLimit);
    this.dispatcher = new WebhookDispatcher({
      logLimit,
      retryDelaysMs: TIMINGS.webhookRetryDelaysMs.map((ms) => scaled(ms, timeScale)),
      timeoutMs: TIMINGS.webhookTimeoutMs,
      shouldAttempt: (delivery, attempt) => this.mayAttempt(delivery, attempt),
      prepare: (delivery, attempt) => ({ ...delivery, body: stampAttempt(delivery.body, attempt) }),
      onAttempt: (attempt) => this.recordOutcome(attempt),
    });
  }

  publish(event: EntityEvent): void {
    const company = this.store.companies.get(event.companyId);
    if (!company) return;
    const identity = { eventId: randomUUID(), correlationId: randomUUID(), host: `${company.domain}.pipedrive.com` };
    for (const webhook of this.store.webhooksOf(event.companyId)) {
      if (!subscribed(webhook, event) || !this.visibleToWebhookUser(webhook, event)) continue;
      const meta: DeliveryMeta = { webhookId: webhook.id, eventId: identity.eventId, object: event.object, action: event.action, entityId: event.entityId };
      if (isBanned(webhook)) {
        this.lose(meta, 1, 'banned');
        continue;
      }
      const headers: Record<string, string> = webhook.httpAuthUser !== null ? { authorization: basicAuthHeader(webhook.httpAuthUser, webhook.httpAuthPassword ?? '') } : {};
      this.dispatcher.send({ url: webhook.subscriptionUrl, body: JSON.stringify(webhookPayload(webhook, event, identity, 1)), headers, meta: { ...meta } });
    }
  }

  /**
   * Pipedrive checks each event against the permissions of the webhook's user and sends it only if that user can
   * see the object: a deal visible to its owner only (and admins) raises no event for another regular user's webhook.
   */
  private visibleToWebhookUser(webhook: Webhook, event: EntityEvent): boolean {
    if (event.object !== 'deal') return true;
    const deal = this.store.deals.get(event.entityId);
    const user = this.store.users.get(webhook.userId);
    return !deal || !user || visibleTo(deal, user);
  }

  lostEvents(): LostEvent[] {
    return this.lost.all();
  }

  clear(): void {
    this.lost.clear();
    this.dispatcher.clear();
  }

  close(): void {
    this.dispatcher.close();
  }

  /** Retries and held deliveries of a webhook that has since been banned or deleted are lost too. */
  private mayAttempt(delivery: WebhookDelivery, attempt: number): boolean {
    const meta = delivery.meta as unknown as DeliveryMeta;
    const webhook = this.store.webhooks.get(meta.webhookId);
    if (!webhook) return this.lose(meta, attempt, 'deleted');
    if (isBanned(webhook)) return this.lose(meta, attempt, 'banned');
    return true;
  }

  private recordOutcome(attempt: WebhookAttempt): void {
    if (attempt.outcome === 'dropped') return;
    const webhook = this.store.webhooks.get((attempt.meta as unknown as DeliveryMeta).webhookId);
    if (!webhook) return;
    const now = new Date();
    webhook.lastHttpStatus = attempt.status;
    if (attempt.outcome === 'delivered') {
      webhook.lastDeliveryTime = now;
      webhook.failingSince = null;
      if (attempt.attempt === 1) webhook.firstAttemptFailures = 0;
      return;
    }
    webhook.failingSince ??= now;
    if (attempt.attempt === 1) webhook.firstAttemptFailures += 1;
    if (webhook.firstAttemptFailures >= TIMINGS.webhookFirstAttemptFailuresBeforeBan) {
      webhook.firstAttemptFailures = 0;
      webhook.bannedUntil = new Date(now.getTime() + scaled(TIMINGS.webhookBanMs, this.timeScale));
    }
    if (now.getTime() - webhook.failingSince.getTime() >= scaled(TIMINGS.webhookDeleteAfterFailingMs, this.timeScale)) {
      this.store.webhooks.delete(webhook.id);
    }
  }

  private lose(meta: DeliveryMeta, attempt: number, reason: LostEvent['reason']): false {
    this.lost.push({ ...meta, attempt, reason, at: new Date().toISOString() });
    return false;
  }
}

function subscribed(webhook: Webhook, event: EntityEvent): boolean {
  return (webhook.eventObject === '*' || webhook.eventObject === event.object) && (webhook.eventAction === '*' || webhook.eventAction === event.action);
}

function isBanned(webhook: Webhook): boolean {
  return webhook.bannedUntil !== null && webhook.bannedUntil.getTime() > Date.now();
}
