import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { verifySecret } from '../common/passwords';

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 10_000;

/**
 * Maps a webhook's Basic credentials to its company. The password is stored hashed (`hashSecret`; subscriptions
 * made before 12-03 keep their scrypt hash until re-created); a verified pair is remembered for a minute (by a
 * SHA-256 of the pair, never the pair itself) so a burst of deliveries costs no database read, nor scrypt for the
 * older hashes. Wrong guesses are never cached.
 */
@Injectable()
export class WebhookCredentials {
  private readonly verified = new Map<string, { companyId: string; until: number }>();
  /** Deliveries arriving together with the same pair share one check instead of each paying the hash. */
  private readonly checking = new Map<string, Promise<string | null>>();

  constructor(private readonly dataSource: DataSource) {}

  async companyFor(user: string, password: string): Promise<string | null> {
    const key = createHash('sha256').update(`${user}\u0000${password}`).digest('hex');
    const cached = this.verified.get(key);
    if (cached && cached.until > Date.now()) return cached.companyId;
    let check = this.checking.get(key);
    if (!check) {
      check = this.verify(key, user, password).finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    return check;
  }

  /** The company was uninstalled: its remembered credentials are checked again (and fail) on the next delivery. */
  forgetCompany(companyId: string): void {
    for (const [key, entry] of this.verified) if (entry.companyId === companyId) this.verified.delete(key);
  }

  private async verify(key: string, user: string, password: string): Promise<string | null> {
    const rows = (await this.dataSource.query('SELECT company_id, password_hash FROM webhook_subscriptions WHERE http_auth_user = $1', [user])) as Array<{
      company_id: string;
      password_hash: string;
    }>;
    for (const row of rows) {
      if (await verifySecret(password, row.password_hash)) {
        if (this.verified.size >= CACHE_MAX) this.verified.clear();
        this.verified.set(key, { companyId: row.company_id, until: Date.now() + CACHE_TTL_MS });
        return row.company_id;
      }
    }
    return null;
  }
}

/** `Authorization: Basic base64(user:password)` → the pair, or null. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | null {
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // PostgreSQL refuses U+0000 in a query parameter; no registered user name holds one.
  if (colon <= 0 || decoded.includes('\u0000')) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
