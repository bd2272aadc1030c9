import { Inject, Injectable } from '@nestjs/common';
import { createHmac, hkdfSync, randomUUID } from 'node:crypto';
import { type AppConfig, CONFIG } from '../config/app-config';
import { constantTimeEqual } from './passwords';

/**
 * Short-lived, tamper-proof tokens the app hands itself through a browser (OAuth `state`). Stateless, so any
 * app process can verify what another issued. `purpose` keeps a token of one flow out of another.
 */
@Injectable()
export class SignedTokens {
  private readonly key: Buffer;

  constructor(@Inject(CONFIG) config: AppConfig) {
    this.key = Buffer.from(hkdfSync('sha256', config.encryption.currentKey, Buffer.alloc(0), 'signed-tokens', 32));
  }

  sign(purpose: string, data: Record<string, unknown>, ttlSeconds: number): string {
    // The nonce makes each token unique. A random UUID comes from Node's buffered entropy: a twentieth of the cost of
    // `randomBytes`, which a panel poll paid for each download link it returns (see docs/performance.md, 12-05c).
    const body = Buffer.from(JSON.stringify({ p: purpose, d: data, e: Math.floor(Date.now() / 1000) + ttlSeconds, n: randomUUID() })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The data, or null when the token is forged, of another purpose, malformed or expired. */
  verify<T extends Record<string, unknown>>(purpose: string, token: unknown): T | null {
    // A query parameter given twice arrives as an array: as altered as any other.
    if (typeof token !== 'string' || !token) return null;
    const [body, mac] = token.split('.');
    if (!body || !mac || !constantTimeEqual(mac, this.mac(body))) return null;
    try {
      const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { p: string; d: T; e: number };
      if (parsed.p !== purpose || parsed.e < Date.now() / 1000) return null;
      return parsed.d;
    } catch {
      return null;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
