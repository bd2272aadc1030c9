import type { IncomingMessage, ServerResponse } from 'node:http';

/** Private data must not be kept by browsers or proxies; set before routing so error answers carry it too. */
export function noStore(_req: IncomingMessage, res: ServerResponse, next: () => void): void {
  res.setHeader('Cache-Control', 'no-store');
  next();
}
