import type { Request, Response } from 'express';
import { PipedriveApiError } from './pipedrive-api.error';

export function sendData(res: Response, data: unknown, additionalData: Record<string, unknown> = {}, status = 200): void {
  res.status(status).json({ success: true, data, additional_data: additionalData });
}

export function sendList(res: Response, items: unknown[]): void {
  sendData(res, items, { pagination: { start: 0, limit: 100, more_items_in_collection: false } });
}

/** One page of a v1 list: `start` and `limit` (100 unless given, at most `maxLimit`) from the query. */
export function sendPage(req: Request, res: Response, items: unknown[], maxLimit: number): void {
  const start = Math.max(0, Number.parseInt(String(req.query.start ?? ''), 10) || 0);
  const limit = Math.min(maxLimit, Math.max(1, Number.parseInt(String(req.query.limit ?? ''), 10) || 100));
  const more = start + limit < items.length;
  sendData(res, items.slice(start, start + limit), { pagination: { start, limit, more_items_in_collection: more, ...(more ? { next_start: start + limit } : {}) } });
}

export function sendApiError(res: Response, error: unknown): void {
  const apiError = error instanceof PipedriveApiError ? error : new PipedriveApiError(500, 'Internal server error');
  res.status(apiError.status).json({ success: false, error: apiError.message, error_info: apiError.info, data: null, additional_data: null });
}
