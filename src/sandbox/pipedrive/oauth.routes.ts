import express, { Router } from 'express';
import type { Request, Response } from 'express';
import type { AppRegistration } from './app-registration';
import { approvalPage, errorPage } from './approval-page';
import { parseBasicAuth } from './basic-auth';
import { removeInstallation } from './installation-removal';
import { OAuthError } from './oauth.error';
import { OAUTH_ERRORS } from './platform-facts';
import type { SimulatorStore } from './simulator-store';
import type { TokenGrant, TokenRegistry } from './token-registry';

export interface OAuthRoutesDeps {
  app: AppRegistration;
  store: SimulatorStore;
  tokens: TokenRegistry;
  apiDomain(companyId: number): string;
  defaultUserId(): number | undefined;
}

type AuthorizeParams = { clientId: string; redirectUri: string; state?: string };

/** oauth.pipedrive.com: authorize (consent page or auto-approve), token, revoke. */
export function oauthRoutes(deps: OAuthRoutesDeps): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false });

  router.get('/oauth/authorize', (req, res) => {
    const params = validAuthorizeParams(deps.app, req.query, res);
    if (!params) return;
    const simUser = stringParam(req.query._sim_user);
    const simDecision = stringParam(req.query._sim_decision);
    if (deps.app.autoApprove || simUser !== undefined || simDecision !== undefined) {
      decide(deps, res, params, simDecision === 'deny' ? 'deny' : 'allow', simUser ?? String(deps.defaultUserId() ?? ''));
      return;
    }
    const users = [...deps.store.users.values()].map((user) => ({ ...user, companyName: deps.store.companies.get(user.companyId)?.name ?? '' }));
    res.type('html').send(approvalPage({ ...params, scopes: deps.app.scopes }, users));
  });

  router.post('/oauth/authorize', form, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const params = validAuthorizeParams(deps.app, body, res);
    if (!params) return;
    decide(deps, res, params, body.decision === 'allow' ? 'allow' : 'deny', stringParam(body.user_id) ?? '');
  });

  router.post('/oauth/token', form, (req, res) => {
    handleOAuth(res, () => {
      authenticateClient(deps.app, req);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const grantType = stringParam(body.grant_type);
      if (grantType === 'authorization_code') {
        const code = requiredParam(body, 'code');
        return tokenResponse(deps, deps.tokens.exchangeCode(deps.app.clientId, code, stringParam(body.redirect_uri)));
      }
      if (grantType === 'refresh_token') {
        return tokenResponse(deps, deps.tokens.refresh(deps.app.clientId, requiredParam(body, 'refresh_token')));
      }
      throw new OAuthError(400, 'unsupported_grant_type', OAUTH_ERRORS.grantTypeUnsupported);
    });
  });

  // Answers 200 with an empty body for unknown tokens too (RFC 7009); Pipedrive's exact answer is unverified.
  router.post('/oauth/revoke', form, (req, res) => {
    handleOAuth(res, () => {
      authenticateClient(deps.app, req);
      const token = requiredParam((req.body ?? {}) as Record<string, unknown>, 'token');
      const installation = deps.tokens.installationOf(token);
      if (installation && installation.clientId === deps.app.clientId) {
        removeInstallation(deps.store, deps.tokens, installation.clientId, installation.companyId, installation.userId);
      }
      return undefined;
    });
  });

  return router;
}

function decide(deps: OAuthRoutesDeps, res: Response, params: AuthorizeParams, decision: 'allow' | 'deny', userIdText: string): void {
  const target = new URL(params.redirectUri);
  if (decision === 'deny') {
    target.searchParams.set('error', 'user_denied');
  } else {
    const user = deps.store.users.get(Number(userIdText));
    if (!user) {
      res.status(400).type('html').send(errorPage(`Unknown user ${userIdText}`));
      return;
    }
    const code = deps.tokens.issueCode({ clientId: deps.app.clientId, companyId: user.companyId, userId: user.id, scopes: [...deps.app.scopes] }, params.redirectUri);
    target.searchParams.set('code', code);
  }
  if (params.state !== undefined) target.searchParams.set('state', params.state);
  res.redirect(302, target.toString());
}

function validAuthorizeParams(app: AppRegistration, source: Record<string, unknown>, res: Response): AuthorizeParams | undefined {
  const clientId = stringParam(source.client_id);
  const redirectUri = stringParam(source.redirect_uri);
  const problem =
    clientId !== app.clientId ? 'Unknown client_id'
    : !redirectUri || !URL.canParse(redirectUri) ? 'Missing or invalid redirect_uri'
    : app.callbackUrl !== undefined && redirectUri !== app.callbackUrl ? 'redirect_uri does not match the app callback URL'
    : undefined;
  if (problem || !clientId || !redirectUri) {
    res.status(400).type('html').send(errorPage(problem ?? 'Invalid request'));
    return undefined;
  }
  return { clientId, redirectUri, state: stringParam(source.state) };
}

function authenticateClient(app: AppRegistration, req: Request): void {
  const credentials = parseBasicAuth(req.headers.authorization);
  if (!credentials || credentials.user !== app.clientId || credentials.password !== app.clientSecret) {
    throw new OAuthError(401, 'invalid_client', OAUTH_ERRORS.clientInvalid);
  }
}

function tokenResponse(deps: OAuthRoutesDeps, grant: TokenGrant) {
  return {
    access_token: grant.accessToken,
    token_type: 'bearer',
    refresh_token: grant.refreshToken,
    scope: grant.installation.scopes.join(','),
    expires_in: grant.expiresInSeconds,
    api_domain: deps.apiDomain(grant.installation.companyId),
  };
}

function handleOAuth(res: Response, answer: () => object | undefined): void {
  try {
    const body = answer();
    if (body === undefined) res.status(200).end();
    else res.status(200).json(body);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    res.status(error.status).json({ error: error.error, error_description: error.description });
  }
}

function requiredParam(body: Record<string, unknown>, name: string): string {
  const value = stringParam(body[name]);
  if (!value) throw new OAuthError(400, 'invalid_request', `${OAUTH_ERRORS.requestInvalid} ${name}`);
  return value;
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
