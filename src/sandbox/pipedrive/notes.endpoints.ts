import express from 'express';
import type { ApiEndpoint } from './api-endpoint';
import { noteV1 } from './api-shapes';
import type { DealRecords } from './deal-records';
import { sendData, sendPage } from './envelope';
import type { Note } from './pipedrive.entities';
import { PipedriveApiError } from './pipedrive-api.error';
import type { SimulatorStore } from './simulator-store';

/** v1 notes on deals: create (content is HTML, sanitised) and list by deal. */
export function noteEndpoints(store: SimulatorStore, deals: DealRecords): ApiEndpoint[] {
  const describe = (note: Note) => noteV1(note, store.deals.get(note.dealId), store.users.get(note.userId));
  return [
    {
      method: 'post',
      path: '/v1/notes',
      scope: 'deals:full',
      cost: 'v1Write',
      parsers: [express.json(), express.urlencoded({ extended: false })],
      handle: (req, res, caller) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (typeof body.content !== 'string' || body.content.trim() === '') throw PipedriveApiError.badRequest('content is required');
        const dealId = Number(body.deal_id);
        if (!Number.isInteger(dealId) || dealId <= 0) throw PipedriveApiError.badRequest('deal_id is required');
        deals.require(caller.company.id, dealId);
        const note: Note = {
          id: store.nextId('note'),
          companyId: caller.company.id,
          dealId,
          userId: caller.user.id,
          content: sanitiseHtml(body.content),
          pinnedToDealFlag: [true, 1, '1', 'true'].includes(body.pinned_to_deal_flag as never),
          addTime: new Date(),
        };
        store.notes.set(note.id, note);
        sendData(res, describe(note), {}, 201);
      },
    },
    {
      method: 'get',
      path: '/v1/notes',
      scope: 'deals:read',
      cost: 'list',
      handle: (req, res, caller) => {
        const dealId = req.query.deal_id === undefined ? undefined : Number(req.query.deal_id);
        sendPage(req, res, store.notesOf(caller.company.id, dealId).map(describe), 500);
      },
    },
  ];
}

/** An approximation of Pipedrive's sanitiser: scripts, styles, event handlers and javascript: URLs go. */
function sanitiseHtml(html: string): string {
  return html
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/\son\w+\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi, '')
    .replace(/javascript:/gi, '');
}
