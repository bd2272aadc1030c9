import express, { type Request, type Response, Router } from 'express';
import { DottedSignError } from './dottedsign-error';
import { randomToken } from './dottedsign-store';

export interface Grant {
  account: string;
  expiresAt: number;
}

export interface OAuthState {
  clientId: string;
  clientSecret: string;
  ownerAccount: string;
  accessTokenTtlSeconds: number;
  autoApprove: boolean;
  accessTokens: Map<string, Grant>;
  refreshTokens: Map<string, string>;
  codes: Map<string, { account: string; redirectUri: string; expiresAt: number }>;
  accounts(): string[];
}

const CODE_TTL_MS = 5 * 60 * 1000;
const escape = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** `/v1/oauth/authorize` (an approval page) and `/v1/oauth/token` (code, refresh, client credentials). */
export function dottedSignOAuthRoutes(state: OAuthState): Router {
  const router = Router();

  const issue = (account: string, withRefresh: boolean) => {
    const accessToken = randomToken();
    state.accessTokens.set(accessToken, { account, expiresAt: Date.now() + state.accessTokenTtlSeconds * 1000 });
    const refreshToken = withRefresh ? randomToken() : undefined;
    if (refreshToken) state.refreshTokens.set(refreshToken, account);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: state.accessTokenTtlSeconds,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      created_at: Math.floor(Date.now() / 1000),
    };
  };

  const redirectWithCode = (res: Response, redirectUri: string, account: string, stateParam: unknown) => {
    const code = randomToken();
    state.codes.set(code, { account, redirectUri, expiresAt: Date.now() + CODE_TTL_MS });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    if (typeof stateParam === 'string') target.searchParams.set('state', stateParam);
    res.redirect(302, target.toString());
  };

  router.get('/v1/oauth/authorize', (req: Request, res: Response) => {
    const { client_id: clientId, redirect_uri: redirectUri, state: stateParam, _sim_account: simAccount } = req.query as Record<string, string | undefined>;
    if (clientId !== state.clientId || !redirectUri || !URL.canParse(redirectUri)) {
      return res.status(400).type('html').send('<h1>Invalid authorization request</h1><p>Unknown client or missing redirect_uri.</p>');
    }
    const account = simAccount ?? (state.autoApprove ? state.ownerAccount : undefined);
    if (account) return redirectWithCode(res, redirectUri, account, stateParam);
    const options = state.accounts().map((email) => `<option>${escape(email)}</option>`).join('');
    res.type('html').send(`<!doctype html><html><body style="font-family:sans-serif;max-width:30rem;margin:3rem auto">
<h1>DottedSign (simulator)</h1><p>Allow this application to create and read your sign tasks?</p>
<form method="post" action="/v1/oauth/authorize">
<input type="hidden" name="redirect_uri" value="${escape(redirectUri)}"><input type="hidden" name="state" value="${escape(stateParam ?? '')}">
<label>Account <select name="account">${options}</select></label>
<p><button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button></p></form></body></html>`);
  });

  router.post('/v1/oauth/authorize', express.urlencoded({ extended: false }), (req, res) => {
    const { redirect_uri: redirectUri, state: stateParam, account, decision } = req.body as Record<string, string>;
    if (!redirectUri || !URL.canParse(redirectUri)) return res.status(400).send('missing redirect_uri');
    if (decision !== 'allow') {
      const target = new URL(redirectUri);
      target.searchParams.set('error', 'access_denied');
      if (stateParam) target.searchParams.set('state', stateParam);
      return res.redirect(302, target.toString());
    }
    redirectWithCode(res, redirectUri, account || state.ownerAccount, stateParam || undefined);
  });

  router.post('/v1/oauth/token', express.json(), (req, res) => {
    const body = (req.body ?? {}) as Record<string, string>;
    if (body.client_id !== state.clientId || body.client_secret !== state.clientSecret) throw DottedSignError.invalidClient();
    switch (body.grant_type) {
      case 'authorization_code': {
        const code = state.codes.get(body.code);
        state.codes.delete(body.code);
        if (!code || code.expiresAt < Date.now() || code.redirectUri !== body.redirect_uri) throw DottedSignError.invalidGrant('invalid authorization code');
        return res.json(issue(code.account, true));
      }
      case 'refresh_token': {
        const account = state.refreshTokens.get(body.refresh_token);
        if (!account) throw DottedSignError.invalidGrant('invalid refresh token');
        state.refreshTokens.delete(body.refresh_token);
        return res.json(issue(account, true));
      }
      case 'client_credentials':
        return res.json(issue(state.ownerAccount, false));
      default:
        throw DottedSignError.invalidParams('unsupported grant_type');
    }
  });
  return router;
}
