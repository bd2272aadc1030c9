import type { Response } from 'express';
import { PipedriveApiError } from './pipedrive-api.error';

export function sendData(res: Response, data: unknown, additionalData: Record<string, unknown> = {}, status = 200): void {
  res.status(status).json({ success: true, data, additional_data: additionalData });
}

export function sendList(res: Response, items: unknown[]): void {
  sendData(res, items, { pagination: { start: 0, limit: 100, more_items_in_collection: false } });
}

export function sendApiError(res: Response, error: unknown): void {
  const apiError = error instanceof PipedriveApiError ? error : new PipedriveApiError(500, 'Internal server error');
  res.status(apiError.status).json({ success: false, error: apiError.message, error_info: apiError.info, data: null, additional_data: null });
}
