/**
 * Pipedrive's and DottedSign's servers post their webhooks under this path; no browser loads it. Each accepted
 * delivery is recorded as an inbox row, so these routes skip the request log and the browser security headers
 * (together about a sixth of a delivery's app CPU; docs/decisions.md), and a refused one is logged on its own.
 */
export const WEBHOOK_ROUTES = 'webhooks/*path';

export function isWebhookUrl(url: string): boolean {
  return url.startsWith('/webhooks/');
}
