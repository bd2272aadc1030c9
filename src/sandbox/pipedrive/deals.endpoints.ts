import express from 'express';
import { idParam } from './api-endpoint';
import type { ApiEndpoint } from './api-endpoint';
import { dealV2 } from './api-shapes';
import { type DealInput, type DealRecords, visibleTo } from './deal-records';
import { sendData } from './envelope';
import type { Deal, DealStatus } from './pipedrive.entities';
import { PipedriveApiError } from './pipedrive-api.error';

/** v2 deals: list (cursor-paged), read one, and PATCH status / stage (plus title, value, currency, person, owner). */
export function dealEndpoints(deals: DealRecords): ApiEndpoint[] {
  return [
    {
      method: 'get',
      path: '/v2/deals',
      scope: 'deals:read',
      cost: 'list',
      handle: (req, res, caller) => {
        const query = listQuery(req.query);
        const listed = deals
          .listed(caller.company.id)
          .filter((deal) => visibleTo(deal, caller.user))
          .filter((deal) => !query.updatedSince || deal.updateTime.getTime() >= query.updatedSince.getTime())
          .sort((a, b) => query.direction * (sortValue(a, query.sortBy) - sortValue(b, query.sortBy) || a.id - b.id));
        const page = listed.slice(query.offset, query.offset + query.limit);
        const more = query.offset + page.length < listed.length;
        sendData(res, page.map(dealV2), { next_cursor: more ? Buffer.from(JSON.stringify({ offset: query.offset + page.length })).toString('base64url') : null });
      },
    },
    {
      method: 'get',
      path: '/v2/deals/:id',
      scope: 'deals:read',
      cost: 'v2Get',
      handle: (req, res, caller) => sendData(res, dealV2(deals.readable(caller.company.id, idParam(req), caller.user))),
    },
    {
      method: 'patch',
      path: '/v2/deals/:id',
      scope: 'deals:full',
      cost: 'v2Update',
      parsers: [express.json()],
      handle: (req, res, caller) => {
        const input = dealPatch(req.body);
        const deal = deals.updateThroughApi(caller.company.id, idParam(req), input, { userId: caller.user.id, changeSource: 'api' }, caller.user);
        sendData(res, dealV2(deal));
      },
    },
  ];
}

type SortField = 'id' | 'update_time' | 'add_time';

function sortValue(deal: Deal, field: SortField): number {
  return field === 'id' ? deal.id : field === 'add_time' ? deal.addTime.getTime() : deal.updateTime.getTime();
}

/** `updated_since` (RFC 3339), `sort_by`, `sort_direction`, `limit` (1–500, default 100) and an opaque `cursor`. */
function listQuery(query: Record<string, unknown>): { updatedSince: Date | null; sortBy: SortField; direction: 1 | -1; limit: number; offset: number } {
  const text = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);
  const since = text('updated_since');
  const updatedSince = since === undefined ? null : new Date(since);
  if (updatedSince && (Number.isNaN(updatedSince.getTime()) || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(since!))) {
    throw PipedriveApiError.badRequest('updated_since must be an RFC 3339 date-time');
  }
  const sortBy = text('sort_by') ?? 'id';
  if (!['id', 'update_time', 'add_time'].includes(sortBy)) throw PipedriveApiError.badRequest('sort_by must be one of id, update_time, add_time');
  const direction = text('sort_direction') ?? 'asc';
  if (direction !== 'asc' && direction !== 'desc') throw PipedriveApiError.badRequest('sort_direction must be asc or desc');
  const limit = Number(text('limit') ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw PipedriveApiError.badRequest('limit must be an integer from 1 to 500');
  let offset = 0;
  const cursor = text('cursor');
  if (cursor !== undefined) {
    try {
      offset = (JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { offset: number }).offset;
    } catch {
      offset = NaN;
    }
    if (!Number.isInteger(offset) || offset < 0) throw PipedriveApiError.badRequest('Invalid cursor');
  }
  return { updatedSince, sortBy: sortBy as SortField, direction: direction === 'asc' ? 1 : -1, limit, offset };
}

function dealPatch(body: unknown): DealInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw PipedriveApiError.badRequest('Request body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const input: DealInput = {};
  if (fields.status !== undefined) input.status = fields.status as DealStatus;
  if (fields.stage_id !== undefined) input.stageId = integerField(fields.stage_id, 'stage_id');
  if (fields.owner_id !== undefined) input.ownerId = integerField(fields.owner_id, 'owner_id');
  if (fields.person_id !== undefined) input.personId = fields.person_id === null ? null : integerField(fields.person_id, 'person_id');
  if (fields.title !== undefined) input.title = stringField(fields.title, 'title');
  if (fields.currency !== undefined) input.currency = stringField(fields.currency, 'currency');
  if (fields.value !== undefined) {
    if (typeof fields.value !== 'number') throw PipedriveApiError.badRequest('value must be a number');
    input.value = fields.value;
  }
  return input;
}

function integerField(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw PipedriveApiError.badRequest(`${name} must be an integer`);
  return value;
}

function stringField(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw PipedriveApiError.badRequest(`${name} must be a non-empty string`);
  return value;
}
