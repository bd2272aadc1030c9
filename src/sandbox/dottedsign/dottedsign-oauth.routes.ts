import { type Request, type Response, Router } from 'express';
import type { SimClock } from '../kit/sim-clock';
import { DottedSignError } from './dottedsign-error';
import { randomToken } from './dottedsign-store';
import { escapeHtml } from './html-escape';

export interface Grant {
  account: string;
  scopes: Scope[];
  expiresAt: number;
}

/**
 * The scopes the simulator knows: the three the reference says this app needs (the download scope's name is
 * unverified). A token carries the known ones it was asked for (none asked, none granted); unknown names are
 * ignored. Each `/v1` route needs one of them (see the API routes).
 */
export const SCOPES = ['sign_tasks.general.read', 'sign_tasks.general.write', 'sign_tasks.download.read'] as const;
export type Scope = (typeof SCOPES)[number];

function requestedScopes(scope: unknown): Scope[] {
  const asked = typeof scope === 'string' ? scope.split(/[\s,]+/) : [];
  return SCOPES.filter((known) => asked.includes(known));
}

export interface OAuthState {
  clientId: string;
  clientSecret: string;
  ownerAccount: string;
  accessTokenTtlSeconds: number;
  autoApprove: boolean;
  clock: SimClock;
  accessTokens: Map<string, Grant>;
  refreshTokens: Map<string, { account: string; scopes: Scope[] }>;
  codes: Map<string, { account: string; scopes: Scope[]; redirectUri: string; expiresAt: number }>;
  accounts(): string[];
  /** Called when a user approves with an email; the sandbox creates unknown accounts on the spot. */
  approve(account: string): void;
}

/** Simulator choice: an authorization code lives five minutes of simulator time (see `/_sim/clock/advance`). */
const CODE_TTL_MS = 5 * 60 * 1000;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** `/v1/oauth/authorize` (an approval page) and `/v1/oauth/token` (code, refresh, client credentials). */
export function dottedSignOAuthRoutes(state: OAuthState): Router {
  const router = Router();

  const issue = (account: string, scopes: Scope[], withRefresh: boolean) => {
    const accessToken = randomToken();
    state.accessTokens.set(accessToken, { account, scopes, expiresAt: state.clock.now() + state.accessTokenTtlSeconds * 1000 });
    const refreshToken = withRefresh ? randomToken() : undefined;
    if (refreshToken) state.refreshTokens.set(refreshToken, { account, scopes });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: state.accessTokenTtlSeconds,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      created_at: Math.floor(state.clock.now() / 1000),
    };
  };

  const redirectTo = (res: Response, redirectUri: string, params: Record<string, string | undefined>) => {
    const target = new URL(redirectUri);
    for (const [name, value] of Object.entries(params)) if (value) target.searchParams.set(name, value);
    res.redirect(302, target.toString());
  };

  const approveAndRedirect = (res: Response, redirectUri: string, account: string, scope: string | undefined, stateParam: string | undefined) => {
    state.approve(account);
    const code = randomToken();
    state.codes.set(code, { account, scopes: requestedScopes(scope), redirectUri, expiresAt: state.clock.now() + CODE_TTL_MS });
    redirectTo(res, redirectUri, { code, state: stateParam });
  };

  router.get('/v1/oauth/authorize', (req: Request, res: Response) => {
    const query = req.query as Record<string, string | undefined>;
    const { redirect_uri: redirectUri, state: stateParam, _sim_account: simAccount } = query;
    if (query.client_id !== state.clientId || !redirectUri || !URL.canParse(redirectUri)) {
      return res.status(400).type('html').send('<h1>Invalid authorization request</h1><p>Unknown client or missing redirect_uri.</p>');
    }
    if (query.response_type !== 'code') return redirectTo(res, redirectUri, { error: 'unsupported_response_type', state: stateParam });
    const account = simAccount ?? (state.autoApprove ? state.ownerAccount : undefined);
    if (account) return approveAndRedirect(res, redirectUri, account, query.scope, stateParam);
    const known = state.accounts().map((email) => `<option value="${escapeHtml(email)}"></option>`).join('');
    res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>DottedSign (simulator)</title></head>
<body style="font-family:sans-serif;max-width:30rem;margin:3rem auto">
<h1>DottedSign (simulator)</h1><p>Allow this application to create and read your sign tasks${query.scope ? ` (${escapeHtml(query.scope)})` : ''}?</p>
<form method="post" action="/v1/oauth/authorize">
<input type="hidden" name="redirect_uri" value="${escapeHtml(redirectUri)}"><input type="hidden" name="state" value="${escapeHtml(stateParam ?? '')}"><input type="hidden" name="scope" value="${escapeHtml(query.scope ?? '')}">
<label>Account email <input name="account" list="accounts" value="${escapeHtml(state.ownerAccount)}" required data-testid="account"></label>
<datalist id="accounts">${known}</datalist>
<p><button name="decision" value="allow" data-testid="allow">Allow</button> <button name="decision" value="deny" data-testid="deny">Deny</button></p></form></body></html>`);
  });

  router.post('/v1/oauth/authorize', (req, res) => {
    const { redirect_uri: redirectUri, state: stateParam, account, decision, scope } = (req.body ?? {}) as Record<string, string | undefined>;
    if (!redirectUri || !URL.canParse(redirectUri)) return res.status(400).type('html').send('<h1>Missing redirect_uri</h1>');
    if (decision !== 'allow') return redirectTo(res, redirectUri, { error: 'access_denied', state: stateParam });
    const email = account?.trim() || state.ownerAccount;
    if (!EMAIL.test(email)) return res.status(400).type('html').send('<h1>Enter a valid email</h1>');
    approveAndRedirect(res, redirectUri, email, scope, stateParam || undefined);
  });

  router.post('/v1/oauth/token', (req, res) => {
    const body = (req.body ?? {}) as Record<string, string | undefined>;
    if (body.client_id !== state.clientId || body.client_secret !== state.clientSecret) throw DottedSignError.invalidClient();
    switch (body.grant_type) {
      case 'authorization_code': {
        const code = body.code === undefined ? undefined : state.codes.get(body.code);
        if (body.code !== undefined) state.codes.delete(body.code);
        if (!code || code.expiresAt < state.clock.now() || code.redirectUri !== body.redirect_uri) throw DottedSignError.invalidGrant('invalid authorization code');
        return res.json(issue(code.account, code.scopes, true));
      }
      case 'refresh_token': {
        const granted = body.refresh_token === undefined ? undefined : state.refreshTokens.get(body.refresh_token);
        if (!granted || body.refresh_token === undefined) throw DottedSignError.invalidGrant('invalid refresh token');
        state.refreshTokens.delete(body.refresh_token);
        return res.json(issue(granted.account, granted.scopes, true));
      }
      case 'client_credentials':
        return res.json(issue(state.ownerAccount, requestedScopes(body.scope), false));
      default:
        throw DottedSignError.invalidParams('unsupported grant_type');
    }
  });
  return router;
}
