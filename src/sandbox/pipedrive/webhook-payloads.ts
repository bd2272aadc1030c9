import { dealV1, dealV2, personV1, personV2 } from './api-shapes';
import type { EntityAction, EntityEvent } from './entity-events';
import type { Webhook } from './pipedrive.entities';

/** Ids fixed per event (shared by every webhook and every attempt) and per company. */
export interface EventIdentity {
  eventId: string;
  correlationId: string;
  /** `<company domain>.pipedrive.com` */
  host: string;
}

const V1_ACTIONS: Record<EntityAction, string> = { create: 'added', change: 'updated', delete: 'deleted' };

/** The body Pipedrive POSTs for one event to one webhook on attempt `attempt` (1–4), in the webhook's version. */
export function webhookPayload(webhook: Webhook, event: EntityEvent, identity: EventIdentity, attempt: number): object {
  return webhook.version === '1.0' ? payloadV1(webhook, event, identity, attempt) : payloadV2(webhook, event, identity, attempt);
}

function payloadV2(webhook: Webhook, event: EntityEvent, identity: EventIdentity, attempt: number): object {
  const { current, previous: previousFull } = recordsV2(event);
  return {
    data: current,
    // For changes only the fields that changed carry their previous value (Pipedrive's v2 docs; not in the reference).
    previous: event.action === 'change' && current && previousFull ? changedFields(previousFull, current) : previousFull,
    meta: {
      action: event.action,
      entity: event.object,
      entity_id: String(event.entityId),
      id: identity.eventId,
      company_id: String(event.companyId),
      user_id: String(event.userId),
      correlation_id: identity.correlationId,
      timestamp: event.at.toISOString(),
      version: '2.0',
      webhook_id: String(webhook.id),
      webhook_owner_id: String(webhook.ownerId),
      attempt,
      change_source: event.changeSource,
      is_bulk_edit: false,
      type: 'application',
      host: identity.host,
      ...(event.mergedToId === undefined ? {} : { merged_to_id: String(event.mergedToId) }),
    },
  };
}

function payloadV1(webhook: Webhook, event: EntityEvent, identity: EventIdentity, attempt: number): object {
  const action = V1_ACTIONS[event.action];
  const { current, previous } = recordsV1(event);
  return {
    v: 1,
    event: `${action}.${event.object}`,
    meta: {
      v: 1,
      action,
      object: event.object,
      id: event.entityId,
      company_id: event.companyId,
      user_id: event.userId,
      host: identity.host,
      timestamp: Math.floor(event.at.getTime() / 1000),
      timestamp_micro: event.at.getTime() * 1000,
      permitted_user_ids: [webhook.userId],
      trans_pending: false,
      is_bulk_update: false,
      pipedrive_service_name: false,
      change_source: event.changeSource,
      matches_filters: { current: [] },
      webhook_id: String(webhook.id),
      webhook_owner_id: String(webhook.ownerId),
      attempt,
    },
    current,
    previous,
    event_id: identity.eventId,
    retry: attempt - 1,
  };
}

type Records = { current: Record<string, unknown> | null; previous: Record<string, unknown> | null };

function recordsV2(event: EntityEvent): Records {
  if (event.object === 'deal') return { current: event.current && dealV2(event.current), previous: event.previous && dealV2(event.previous) };
  return { current: event.current && personV2(event.current), previous: event.previous && personV2(event.previous) };
}

function recordsV1(event: EntityEvent): Records {
  if (event.object === 'deal') return { current: event.current && dealV1(event.current), previous: event.previous && dealV1(event.previous) };
  return { current: event.current && personV1(event.current), previous: event.previous && personV1(event.previous) };
}

function changedFields(previous: Record<string, unknown>, current: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(previous).filter(([key, value]) => key !== 'update_time' && JSON.stringify(value) !== JSON.stringify(current[key])));
}

/** Sets the attempt number (1–4) of an already rendered payload: `meta.attempt`, and `retry` in v1. */
export function stampAttempt(body: string, attempt: number): string {
  const payload = JSON.parse(body) as { v?: number; meta: Record<string, unknown>; retry?: number };
  payload.meta.attempt = attempt;
  if (payload.v === 1) payload.retry = attempt - 1;
  return JSON.stringify(payload);
}
