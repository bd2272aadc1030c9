import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Passport } from 'passport';
import { Strategy as OAuth2Strategy } from 'passport-oauth2';
import { SignedTokens } from '../common/signed-tokens';
import { type AppConfig, CONFIG } from '../config/app-config';
import { PipedriveClient } from './pipedrive.client';
import type { TokenSet } from './pipedrive.types';

const STATE_PURPOSE = 'pipedrive-install';
const STATE_TTL_SECONDS = 15 * 60;

export type ExchangeResult = { tokens: TokenSet } | { failure: string };

/**
 * The install flow through passport-oauth2. `state` is a stateless signed token; it is verified when present
 * and accepted when absent, because Marketplace-started installs arrive without it (the code exchange, bound to
 * our client, is then the proof). Passport reads `query` (and `body`) from Fastify's request and answers its
 * redirect on the Node response.
 */
@Injectable()
export class PipedriveOAuth {
  private readonly logger = new Logger(PipedriveOAuth.name);
  private readonly passport = new Passport();

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    client: PipedriveClient,
    signed: SignedTokens,
  ) {
    if (!this.configured) return;
    const strategy = new OAuth2Strategy(
      {
        authorizationURL: client.authorizeUrl,
        tokenURL: client.tokenUrl,
        clientID: config.pipedrive.clientId,
        clientSecret: config.pipedrive.clientSecret,
        callbackURL: this.callbackUrl,
        customHeaders: { Authorization: client.basicClientAuth },
        skipUserProfile: true,
        store: {
          store: (_req: unknown, _meta: unknown, done: (error: Error | null, state?: string) => void) =>
            done(null, signed.sign(STATE_PURPOSE, {}, STATE_TTL_SECONDS)),
          verify: (_req: unknown, state: unknown, _meta: unknown, done: (error: Error | null, ok: boolean, info?: unknown) => void) =>
            !state || signed.verify(STATE_PURPOSE, state)
              ? done(null, true)
              : done(null, false, { message: 'The installation link expired or was altered. Start the installation again.' }),
        },
      } as never,
      // The five-argument form (with the token response's params: api_domain, expires_in, scope) is not in the typings.
      // The `oauth` library removes the tokens from `params`, so they are put back from the first two arguments.
      ((access: string, refresh: string, params: Record<string, unknown>, _profile: unknown, done: (error: Error | null, user?: unknown) => void) => {
        try {
          done(null, client.parseTokenResponse({ ...params, access_token: access, refresh_token: refresh }));
        } catch (error) {
          done(error as Error);
        }
      }) as never,
    );
    this.passport.use('pipedrive', strategy);
  }

  get configured(): boolean {
    return Boolean(this.config.pipedrive.clientId && this.config.pipedrive.clientSecret);
  }

  get callbackUrl(): string {
    return `${this.config.appUrl}/auth/pipedrive/callback`;
  }

  /** Redirects the browser to Pipedrive's authorize page with a fresh signed state. */
  start(request: FastifyRequest, reply: FastifyReply): void {
    // Passport ends the Node response itself; Fastify must not send a reply of its own afterwards.
    reply.hijack();
    this.passport.authenticate('pipedrive', { session: false })(request, reply.raw, () => undefined);
  }

  /** With a callback, passport hands every outcome to it and never writes to the response. */
  exchange(request: FastifyRequest, reply: FastifyReply): Promise<ExchangeResult> {
    return new Promise((resolve) => {
      this.passport.authenticate('pipedrive', { session: false }, (error: unknown, tokens: TokenSet | false, info?: { message?: string }) => {
        if (error) {
          this.logger.warn(`Pipedrive code exchange failed: ${(error as Error).message ?? String(error)}`);
          resolve({ failure: describeOAuthError(error) });
        }
        else if (!tokens) resolve({ failure: info?.message ?? 'Pipedrive did not complete the authorization.' });
        else resolve({ tokens });
      })(request, reply.raw, (error: unknown) => resolve({ failure: describeOAuthError(error) }));
    });
  }
}

/** passport-oauth2 reports an OAuth error body as a `TokenError` (`code` = `error`); anything else is transport. */
function describeOAuthError(error: unknown): string {
  const failure = error as { name?: string; code?: string; message?: string } | null;
  if (failure?.name === 'TokenError' || failure?.name === 'AuthorizationError') {
    if (/authorization_code|invalid_grant/i.test(`${failure.code ?? ''} ${failure.message ?? ''}`)) {
      return 'The authorization code expired or was already used. Start the installation again.';
    }
    return `Pipedrive refused the installation (${failure.message ?? failure.code}). Start the installation again.`;
  }
  return 'Pipedrive could not be reached to complete the installation. Please try again.';
}
