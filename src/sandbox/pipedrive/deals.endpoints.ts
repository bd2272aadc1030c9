import express from 'express';
import { idParam } from './api-endpoint';
import type { ApiEndpoint } from './api-endpoint';
import { dealV2 } from './api-shapes';
import type { DealInput, DealRecords } from './deal-records';
import { sendData } from './envelope';
import type { DealStatus } from './pipedrive.entities';
import { PipedriveApiError } from './pipedrive-api.error';

/** v2 deals: read one, and PATCH status / stage (plus title, value, currency, person, owner). */
export function dealEndpoints(deals: DealRecords): ApiEndpoint[] {
  return [
    {
      method: 'get',
      path: '/v2/deals/:id',
      scope: 'deals:read',
      cost: 'v2Get',
      handle: (req, res, caller) => sendData(res, dealV2(deals.require(caller.company.id, idParam(req)))),
    },
    {
      method: 'patch',
      path: '/v2/deals/:id',
      scope: 'deals:full',
      cost: 'v2Update',
      parsers: [express.json()],
      handle: (req, res, caller) => {
        const input = dealPatch(req.body);
        const deal = deals.updateThroughApi(caller.company.id, idParam(req), input, { userId: caller.user.id, changeSource: 'api' });
        sendData(res, dealV2(deal));
      },
    },
  ];
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
