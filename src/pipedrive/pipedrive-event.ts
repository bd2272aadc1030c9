import { z } from 'zod';

/** A Pipedrive webhook delivery, v2 or v1, reduced to what the app acts on. */
export interface PipedriveEvent {
  /** The dedupe key: v2 `meta.id`; v1 webhook id + object id + action + timestamp. */
  eventId: string;
  version: '1' | '2';
  object: string;
  action: 'create' | 'change' | 'delete' | string;
  companyId: string;
  userId: string | null;
  entityId: string;
  occurredAt: string | null;
  /** v2 `meta.merged_to_id`: a `delete` of a deal merged into that one (v2 has no merge action). */
  mergedToId: string | null;
  current: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
}

const id = z.union([z.string().regex(/^\d{1,18}$/), z.number().int().nonnegative()]).transform(String);
const record = z.record(z.string(), z.unknown()).nullable().optional();

const v2 = z.object({
  meta: z.object({
    id: z.string().min(1).max(200),
    action: z.string().min(1).max(40),
    entity: z.string().min(1).max(40),
    entity_id: id,
    company_id: id,
    user_id: id.optional().nullable(),
    timestamp: z.string().max(64).optional(),
    merged_to_id: id.optional().nullable(),
  }),
  data: record,
  previous: record,
});

const v1 = z.object({
  v: z.literal(1).optional(),
  event: z.string().max(80).optional(),
  meta: z.object({
    id: id,
    action: z.string().min(1).max(40),
    object: z.string().min(1).max(40),
    company_id: id,
    user_id: id.optional().nullable(),
    webhook_id: id.optional(),
    timestamp: z.union([z.string(), z.number()]).optional(),
    timestamp_micro: z.union([z.string(), z.number()]).optional(),
  }),
  current: record,
  previous: record,
  retry: z.number().optional(),
});

const V1_ACTIONS: Record<string, string> = { added: 'create', updated: 'change', deleted: 'delete', merged: 'change' };

/** Parses a delivery; null when it is neither a v2 nor a v1 Pipedrive webhook payload. */
export function parsePipedriveEvent(body: unknown): PipedriveEvent | null {
  const asV2 = v2.safeParse(body);
  if (asV2.success) {
    const { meta, data, previous } = asV2.data;
    return {
      eventId: meta.id,
      version: '2',
      object: meta.entity,
      action: meta.action,
      companyId: meta.company_id,
      userId: meta.user_id ?? null,
      entityId: meta.entity_id,
      occurredAt: meta.timestamp ?? null,
      mergedToId: meta.merged_to_id ?? null,
      current: data ?? null,
      previous: previous ?? null,
    };
  }
  const asV1 = v1.safeParse(body);
  if (asV1.success) {
    const { meta, current, previous } = asV1.data;
    const action = V1_ACTIONS[meta.action] ?? meta.action;
    const timestamp = String(meta.timestamp_micro ?? meta.timestamp ?? '');
    return {
      eventId: `v1:${meta.webhook_id ?? ''}:${meta.id}:${action}:${timestamp}`,
      version: '1',
      object: meta.object,
      action,
      companyId: meta.company_id,
      userId: meta.user_id ?? null,
      entityId: meta.id,
      occurredAt: timestamp || null,
      mergedToId: null,
      current: current ?? null,
      previous: previous ?? null,
    };
  }
  return null;
}
