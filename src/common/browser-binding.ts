import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from './passwords';

/**
 * Ties a redirect flow (OAuth) to the browser that started it: a secret in an HttpOnly cookie of that browser, its
 * hash in the signed `state`. A link copied to another browser then carries a valid state but no cookie, so its
 * callback is refused: otherwise whoever approved it there would connect their own account to the starter's company.
 * One cookie per flow, so two windows started one after the other both finish.
 */
export interface BrowserBinding {
  /** Goes into the signed state. */
  flow: string;
  proof: string;
  /** The `Set-Cookie` value for the response that starts the flow. */
  setCookie: string;
}

const COOKIE_PREFIX = 'flow_';

export function bindToBrowser(path: string, maxAgeSeconds: number, secure: boolean): BrowserBinding {
  const flow = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  return { flow, proof: digest(secret), setCookie: cookie(`${COOKIE_PREFIX}${flow}`, secret, path, maxAgeSeconds, secure) };
}

/** Whether the request's cookies hold the secret of this flow. */
export function isSameBrowser(cookieHeader: string | undefined, binding: { flow?: unknown; proof?: unknown }): boolean {
  if (typeof binding.flow !== 'string' || typeof binding.proof !== 'string') return false;
  const secret = readCookie(cookieHeader, `${COOKIE_PREFIX}${binding.flow}`);
  return secret !== undefined && constantTimeEqual(digest(secret), binding.proof);
}

/** The `Set-Cookie` value that removes a flow's cookie once its callback came. */
export function forgetFlow(flow: unknown, path: string, secure: boolean): string | undefined {
  return typeof flow === 'string' && /^[0-9a-f]{12}$/.test(flow) ? cookie(`${COOKIE_PREFIX}${flow}`, '', path, 0, secure) : undefined;
}

function cookie(name: string, value: string, path: string, maxAgeSeconds: number, secure: boolean): string {
  return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
