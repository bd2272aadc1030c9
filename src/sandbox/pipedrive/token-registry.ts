import { randomBytes } from 'node:crypto';
import { OAUTH_ERRORS } from './platform-facts';
import { OAuthError } from './oauth.error';

export interface Installation {
  clientId: string;
  companyId: number;
  userId: number;
  scopes: string[];
}

interface AuthorizationCode extends Installation {
  redirectUri: string;
  expiresAt: number;
  used: boolean;
}

export interface AccessToken extends Installation {
  expiresAt: number;
  revoked: boolean;
}

interface RefreshToken extends Installation {
  idleExpiresAt: number;
  exchanged: boolean;
  revoked: boolean;
}

export interface TokenGrant {
  installation: Installation;
  accessToken: string;
  refreshToken: string;
  expiresInSeconds: number;
}

export interface TokenLifetimes {
  codeTtlMs: number;
  accessTokenTtlSeconds: number;
  refreshTokenIdleTtlMs: number;
}

export type AccessCheck = { token: AccessToken } | { failure: 'unknown' | 'expired' | 'revoked' };

/** Authorization codes, access and refresh tokens. Refresh tokens rotate: each one can be exchanged once. */
export class TokenRegistry {
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly accessTokens = new Map<string, AccessToken>();
  private readonly refreshTokens = new Map<string, RefreshToken>();

  constructor(private readonly lifetimes: TokenLifetimes) {}

  issueCode(installation: Installation, redirectUri: string): string {
    const code = opaqueToken(40);
    this.codes.set(code, { ...installation, redirectUri, expiresAt: Date.now() + this.lifetimes.codeTtlMs, used: false });
    return code;
  }

  exchangeCode(clientId: string, code: string, redirectUri: string | undefined): TokenGrant {
    const stored = this.codes.get(code);
    if (!stored || stored.used || stored.clientId !== clientId || stored.expiresAt <= Date.now()) {
      throw new OAuthError(400, 'invalid_grant', OAUTH_ERRORS.codeInvalid);
    }
    if (redirectUri !== stored.redirectUri) throw new OAuthError(400, 'invalid_grant', OAUTH_ERRORS.redirectUriInvalid);
    stored.used = true;
    return this.grant(stored);
  }

  refresh(clientId: string, refreshToken: string): TokenGrant {
    const stored = this.refreshTokens.get(refreshToken);
    if (!stored || stored.exchanged || stored.revoked || stored.clientId !== clientId || stored.idleExpiresAt <= Date.now()) {
      throw new OAuthError(400, 'invalid_grant', OAUTH_ERRORS.refreshTokenInvalid);
    }
    stored.exchanged = true;
    return this.grant(stored);
  }

  checkAccess(token: string): AccessCheck {
    const stored = this.accessTokens.get(token);
    if (!stored) return { failure: 'unknown' };
    if (stored.revoked) return { failure: 'revoked' };
    if (stored.expiresAt <= Date.now()) return { failure: 'expired' };
    return { token: stored };
  }

  /**
   * The installation a live access or refresh token belongs to. A refresh token already exchanged for a new one, or a
   * revoked or expired token, is invalid and names none (RFC 7009: revoking it is answered 200 and does nothing).
   */
  installationOf(token: string): Installation | undefined {
    const refresh = this.refreshTokens.get(token);
    const access = this.accessTokens.get(token);
    const stored = refresh && !refresh.exchanged && !refresh.revoked ? refresh : access && !access.revoked && access.expiresAt > Date.now() ? access : undefined;
    return stored ? { clientId: stored.clientId, companyId: stored.companyId, userId: stored.userId, scopes: stored.scopes } : undefined;
  }

  revokeInstallation(clientId: string, companyId: number, userId: number): void {
    for (const stored of [...this.accessTokens.values(), ...this.refreshTokens.values()]) {
      if (stored.clientId === clientId && stored.companyId === companyId && stored.userId === userId) stored.revoked = true;
    }
  }

  expireAccessTokens(filter: { companyId?: number; userId?: number }): number {
    let expired = 0;
    for (const stored of this.accessTokens.values()) {
      if ((filter.companyId === undefined || stored.companyId === filter.companyId) && (filter.userId === undefined || stored.userId === filter.userId)) {
        stored.expiresAt = Math.min(stored.expiresAt, Date.now());
        expired += 1;
      }
    }
    return expired;
  }

  /** Installations that still hold a usable refresh token. */
  installations(): Installation[] {
    const byKey = new Map<string, Installation>();
    for (const stored of this.refreshTokens.values()) {
      if (stored.revoked || stored.exchanged) continue;
      byKey.set(`${stored.clientId}:${stored.companyId}:${stored.userId}`, { clientId: stored.clientId, companyId: stored.companyId, userId: stored.userId, scopes: stored.scopes });
    }
    return [...byKey.values()];
  }

  clear(): void {
    this.codes.clear();
    this.accessTokens.clear();
    this.refreshTokens.clear();
  }

  /** Tokens as an approved install would get them, without the consent round trip (load fixtures). */
  grantInstalled(installation: Installation): TokenGrant {
    return this.grant(installation);
  }

  private grant(source: Installation): TokenGrant {
    const installation: Installation = { clientId: source.clientId, companyId: source.companyId, userId: source.userId, scopes: [...source.scopes] };
    const accessToken = opaqueToken(384);
    const refreshToken = opaqueToken(384);
    const expiresInSeconds = this.lifetimes.accessTokenTtlSeconds;
    this.accessTokens.set(accessToken, { ...installation, expiresAt: Date.now() + expiresInSeconds * 1000, revoked: false });
    this.refreshTokens.set(refreshToken, { ...installation, idleExpiresAt: Date.now() + this.lifetimes.refreshTokenIdleTtlMs, exchanged: false, revoked: false });
    return { installation, accessToken, refreshToken, expiresInSeconds };
  }
}

/** Long opaque tokens (`bytes` random bytes, base64url): nothing can be parsed out of them. */
function opaqueToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
