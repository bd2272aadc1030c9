import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPipedriveSimulator } from '../../src/sandbox/pipedrive/pipedrive.simulator';
import type { PipedriveSimulator, PipedriveSimulatorOptions } from '../../src/sandbox/pipedrive/pipedrive.simulator';

/**
 * Contract of the Pipedrive simulator, pinned to /work/shared/reference/pipedrive.md. Everything runs over real
 * HTTP on 127.0.0.1; webhooks and the uninstall call land on a tiny local receiver.
 */

const CLIENT_ID = 'contract-client';
const CLIENT_SECRET = 'contract-secret';
const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  at: number;
}

interface Receiver {
  url: string;
  received: Received[];
  /** Status to answer for a request; default 200. */
  respond: (request: Received) => number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const receiver = { received, respond: (_request: Received) => 200 } as Receiver;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const request: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : null, at: Date.now() };
      received.push(request);
      res.statusCode = receiver.respond(request);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await sleep(5);
  }
}

type Json = Record<string, any>;

class Client {
  constructor(
    readonly sim: PipedriveSimulator,
    readonly callbackUrl: string,
  ) {}

  async control(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.sim.url}/_sim${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  async authorize(query: Record<string, string>): Promise<Response> {
    const params = new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: this.callbackUrl, ...query });
    return fetch(`${this.sim.url}/oauth/authorize?${params}`, { redirect: 'manual' });
  }

  async token(form: Record<string, string>, authorization = BASIC): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${this.sim.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
    return { status: res.status, body: (await res.json()) as Json };
  }

  async revoke(refreshToken: string): Promise<number> {
    const res = await fetch(`${this.sim.url}/oauth/revoke`, {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
    });
    return res.status;
  }

  async codeFor(userId: number, state = 'st4te'): Promise<string> {
    const res = await this.authorize({ _sim_user: String(userId), state });
    const location = new URL(res.headers.get('location') ?? '');
    return location.searchParams.get('code') ?? '';
  }

  async install(userId: number): Promise<Json> {
    const code = await this.codeFor(userId);
    const { status, body } = await this.token({ grant_type: 'authorization_code', code, redirect_uri: this.callbackUrl });
    expect(status).toBe(200);
    return body;
  }

  async api(tokens: Json, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
    const isForm = body instanceof FormData;
    const res = await fetch(`${tokens.api_domain}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens.access_token}`, ...(body === undefined || isForm ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, body: type.includes('json') && text ? JSON.parse(text) : text, headers: res.headers };
  }
}

async function withSimulator(options: Partial<PipedriveSimulatorOptions>, callbackUrl: string, run: (client: Client) => Promise<void>): Promise<void> {
  const sim = await startPipedriveSimulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, appCallbackUrl: callbackUrl, ...options });
  try {
    await run(new Client(sim, callbackUrl));
  } finally {
    await sim.close();
  }
}

describe('Pipedrive simulator', () => {
  let receiver: Receiver;
  let callbackUrl: string;
  let sim: PipedriveSimulator;
  let client: Client;

  beforeAll(async () => {
    receiver = await startReceiver();
    callbackUrl = `${receiver.url}/auth/pipedrive/callback`;
    sim = await startPipedriveSimulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, appCallbackUrl: callbackUrl, timeScale: 0.001 });
    client = new Client(sim, callbackUrl);
  });

  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });

  beforeEach(async () => {
    await client.control('POST', '/reset');
    receiver.received.length = 0;
    receiver.respond = () => 200;
  });

  describe('OAuth authorize', () => {
    it('shows an approval page with a user choice and Allow / Deny', async () => {
      const res = await client.authorize({ state: 'abc' });
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('name="user_id"');
      expect(html).toContain('value="allow"');
      expect(html).toContain('value="deny"');
    });

    it('redirects to the callback with code and state on Allow, and with error=user_denied on Deny', async () => {
      const form = (decision: string) =>
        fetch(`${sim.url}/oauth/authorize`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: callbackUrl, state: 'xyz', user_id: String(sim.demo.adminUserId), decision }),
        });
      const allowed = new URL((await form('allow')).headers.get('location') ?? '');
      expect(`${allowed.origin}${allowed.pathname}`).toBe(callbackUrl);
      expect(allowed.searchParams.get('code')).toMatch(/.{20,}/);
      expect(allowed.searchParams.get('state')).toBe('xyz');

      const denied = await form('deny');
      expect(denied.status).toBe(302);
      const deniedUrl = new URL(denied.headers.get('location') ?? '');
      expect(deniedUrl.searchParams.get('error')).toBe('user_denied');
      expect(deniedUrl.searchParams.get('state')).toBe('xyz');
      expect(deniedUrl.searchParams.has('code')).toBe(false);
    });

    it('auto-approves with _sim_user, and omits state when none was sent', async () => {
      const res = await client.authorize({ _sim_user: String(sim.demo.regularUserId) });
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location') ?? '');
      expect(location.searchParams.get('code')).toBeTruthy();
      expect(location.searchParams.has('state')).toBe(false);
    });

    it('answers an error page for an unknown client_id or a redirect_uri that is not the callback', async () => {
      expect((await client.authorize({ client_id: 'nope' })).status).toBe(400);
      expect((await client.authorize({ redirect_uri: `${receiver.url}/elsewhere` })).status).toBe(400);
    });
  });

  describe('OAuth token', () => {
    it('exchanges a code (Basic client auth, form body) for the reference token response', async () => {
      const tokens = await client.install(sim.demo.adminUserId);
      expect(tokens).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        refresh_token: expect.any(String),
        scope: 'base,deals:full,contacts:read,admin',
        expires_in: 3600,
        api_domain: `${sim.url}/c/${sim.demo.companyId}`,
      });
      expect(tokens.access_token.length).toBeGreaterThan(255);
    });

    it('accepts a code once, only with its redirect_uri and only from the right client', async () => {
      const code = await client.codeFor(sim.demo.adminUserId);
      const badClient = await client.token({ grant_type: 'authorization_code', code, redirect_uri: callbackUrl }, `Basic ${Buffer.from(`${CLIENT_ID}:wrong`).toString('base64')}`);
      expect(badClient.status).toBe(401);
      expect(badClient.body.error).toBe('invalid_client');

      const wrongRedirect = await client.token({ grant_type: 'authorization_code', code, redirect_uri: `${receiver.url}/other` });
      expect(wrongRedirect.status).toBe(400);
      expect(wrongRedirect.body.error).toBe('invalid_grant');

      expect((await client.token({ grant_type: 'authorization_code', code, redirect_uri: callbackUrl })).status).toBe(200);
      const reused = await client.token({ grant_type: 'authorization_code', code, redirect_uri: callbackUrl });
      expect(reused).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid grant: authorization_code is invalid' } });
    });

    it('rejects a code older than 5 minutes (time-scaled, floored at 1 s)', async () => {
      await withSimulator({ timeScale: 0.0001 }, callbackUrl, async (fast) => {
        const code = await fast.codeFor(fast.sim.demo.adminUserId);
        await sleep(1050); // 5 min × 0.0001 = 30 ms, raised to the 1 s floor
        const expired = await fast.token({ grant_type: 'authorization_code', code, redirect_uri: callbackUrl });
        expect(expired.status).toBe(400);
        expect(expired.body.error_description).toBe('Invalid grant: authorization_code is invalid');
      });
    });

    it('rotates refresh tokens and rejects an already exchanged one', async () => {
      const first = await client.install(sim.demo.adminUserId);
      const refreshed = await client.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.access_token).not.toBe(first.access_token);
      expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
      expect(refreshed.body.api_domain).toBe(first.api_domain);

      const reused = await client.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(reused).toEqual({ status: 400, body: { error: 'invalid_grant', error_description: 'Invalid grant: refresh_token is invalid' } });
      expect((await client.token({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token })).status).toBe(200);
      expect((await client.api(refreshed.body, 'GET', '/api/v1/users/me')).status).toBe(200);
    });

    it('makes the API answer 401 once access tokens expire, until a refresh', async () => {
      const tokens = await client.install(sim.demo.adminUserId);
      expect((await client.api(tokens, 'GET', '/api/v1/users/me')).status).toBe(200);
      expect((await client.control('POST', '/tokens/expire', {})).body.expired).toBeGreaterThan(0);
      const expired = await client.api(tokens, 'GET', '/api/v1/users/me');
      expect(expired.status).toBe(401);
      expect(expired.body).toMatchObject({ success: false, error: 'unauthorized access' });
      const refreshed = await client.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      expect((await client.api(refreshed.body, 'GET', '/api/v1/users/me')).status).toBe(200);
    });

    it('expires access tokens after accessTokenTtlSeconds', async () => {
      await withSimulator({ accessTokenTtlSeconds: 1 }, callbackUrl, async (shortLived) => {
        const tokens = await shortLived.install(shortLived.sim.demo.adminUserId);
        expect(tokens.expires_in).toBe(1);
        expect((await shortLived.api(tokens, 'GET', '/api/v1/users/me')).status).toBe(200);
        await sleep(1050);
        expect((await shortLived.api(tokens, 'GET', '/api/v1/users/me')).status).toBe(401);
      });
    });

    it('revoke uninstalls the user: tokens stop working and their webhooks are gone', async () => {
      const tokens = await client.install(sim.demo.adminUserId);
      await client.api(tokens, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: '*', event_object: 'deal' });
      expect(await client.revoke(tokens.refresh_token)).toBe(200);
      expect((await client.api(tokens, 'GET', '/api/v1/users/me')).status).toBe(401);
      expect((await client.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).status).toBe(400);
      expect((await client.control('GET', `/companies/${sim.demo.companyId}/webhooks`)).body).toEqual([]);
    });

    it('revoking a refresh token already exchanged answers 200 and uninstalls nobody (RFC 7009: an invalid token)', async () => {
      const first = await client.install(sim.demo.adminUserId);
      const rotated = (await client.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).body;
      expect(await client.revoke(first.refresh_token)).toBe(200);
      expect((await client.api(rotated, 'GET', '/api/v1/users/me')).status).toBe(200);
      expect((await client.token({ grant_type: 'refresh_token', refresh_token: rotated.refresh_token })).status).toBe(200);
    });

    it('rejects a token used against another company api_domain', async () => {
      const other = (await client.control('POST', '/companies', { name: 'Other Co', domain: 'other' })).body;
      const tokens = await client.install(sim.demo.adminUserId);
      const res = await client.api({ ...tokens, api_domain: other.api_domain }, 'GET', '/api/v1/users/me');
      expect(res.status).toBe(401);
    });
  });

  describe('REST API', () => {
    let tokens: Json;
    beforeEach(async () => {
      tokens = await client.install(sim.demo.adminUserId);
    });

    it('a deal visible to its owner only answers 403 to another non-admin user, on read and update, and is left out of lists', async () => {
      const hidden = (await client.control('POST', `/companies/${sim.demo.companyId}/deals`, { title: 'Owner only', owner_id: sim.demo.adminUserId, visible_to: 1 })).body;
      expect(hidden.visible_to).toBe(1);
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${hidden.id}`)).status).toBe(200);
      const regular = await client.install(sim.demo.regularUserId);
      const read = await client.api(regular, 'GET', `/api/v2/deals/${hidden.id}`);
      expect(read.status).toBe(403);
      expect(read.body).toMatchObject({ success: false, error: expect.any(String) });
      expect((await client.api(regular, 'PATCH', `/api/v2/deals/${hidden.id}`, { status: 'won' })).status).toBe(403);
      expect((await client.api(regular, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).status).toBe(200);
      const listed = (await client.api(regular, 'GET', '/api/v2/deals?limit=500')).body.data as Array<{ id: number }>;
      expect(listed.map((deal) => deal.id)).not.toContain(hidden.id);
      expect(listed.map((deal) => deal.id)).toContain(sim.demo.dealId);
    });

    it('load fixtures: an array of deals is created in one control call, and a grant answers tokens that work like an install', async () => {
      const created = (await client.control('POST', `/companies/${sim.demo.companyId}/deals`, [{ title: 'Bulk 1' }, { title: 'Bulk 2', visible_to: 1 }])).body as Array<{ id: number; title: string; visible_to: number }>;
      expect(created.map((deal) => [deal.title, deal.visible_to])).toEqual([['Bulk 1', 3], ['Bulk 2', 1]]);
      const grant = await client.control('POST', `/companies/${sim.demo.companyId}/users/${sim.demo.regularUserId}/grant`);
      expect(grant.status).toBe(201);
      expect(grant.body).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String), api_domain: expect.any(String), expires_in: expect.any(Number) });
      expect((await client.api(grant.body, 'GET', '/api/v1/users/me')).body.data.id).toBe(sim.demo.regularUserId);
      expect((await client.api(grant.body, 'GET', `/api/v2/deals/${created[1].id}`)).status).toBe(403);
      expect((await client.control('POST', `/companies/${sim.demo.companyId}/users/999999/grant`)).status).toBe(404);
    });

    it('GET /api/v1/users/me answers the user and company in the envelope', async () => {
      const res = await client.api(tokens, 'GET', '/api/v1/users/me');
      expect(res.body).toMatchObject({
        success: true,
        data: {
          id: sim.demo.adminUserId,
          company_id: sim.demo.companyId,
          company_name: 'Acme Sales',
          company_domain: 'acme',
          is_admin: true,
          name: expect.any(String),
          email: expect.any(String),
          language: { language_code: 'en', country_code: 'US' },
        },
        additional_data: expect.any(Object),
      });
    });

    it('GET /api/v2/deals/:id answers the reference fields with RFC 3339 timestamps; unknown → 404', async () => {
      const res = await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`);
      expect(res.status).toBe(200);
      const deal = res.body.data;
      for (const field of ['id', 'title', 'owner_id', 'person_id', 'org_id', 'pipeline_id', 'stage_id', 'value', 'currency', 'status', 'is_archived', 'is_deleted', 'won_time', 'custom_fields']) {
        expect(deal).toHaveProperty(field);
      }
      expect(deal).toMatchObject({ id: sim.demo.dealId, person_id: sim.demo.personWithEmailId, status: 'open', is_archived: false, is_deleted: false, won_time: null, custom_fields: {} });
      expect(deal.add_time).toMatch(RFC3339);
      // The demo company existed before the app: its deal is a day old, whenever the simulator started.
      expect(Date.parse(deal.add_time)).toBeLessThan(Date.now() - 23 * 3600_000);
      expect((await client.api(tokens, 'GET', '/api/v2/deals/999999')).body).toMatchObject({ success: false, error: expect.any(String) });
      expect((await client.api(tokens, 'GET', '/api/v2/deals/999999')).status).toBe(404);
    });

    it('GET /api/v2/deals lists live deals changed since a time, sorted, in cursor pages; bad parameters → 400', async () => {
      const companyPath = `/companies/${sim.demo.companyId}/deals`;
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const since = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const created = [];
      for (const title of ['First', 'Second', 'Archived', 'Deleted', 'Third']) created.push((await client.control('POST', companyPath, { title })).body as { id: number });
      await client.control('POST', `${companyPath}/${created[2].id}/archive`);
      await client.control('DELETE', `${companyPath}/${created[3].id}`);

      const query = `updated_since=${since}&sort_by=update_time&sort_direction=asc&limit=2`;
      const first = await client.api(tokens, 'GET', `/api/v2/deals?${query}`);
      expect(first.status).toBe(200);
      expect(first.body.data.map((deal: Json) => deal.title)).toEqual(['First', 'Second']);
      expect(first.body.data[0].add_time).toMatch(RFC3339);
      const cursor = first.body.additional_data.next_cursor as string;
      expect(cursor).toEqual(expect.any(String));
      const second = await client.api(tokens, 'GET', `/api/v2/deals?${query}&cursor=${cursor}`);
      expect(second.body.data.map((deal: Json) => deal.title)).toEqual(['Third']);
      expect(second.body.additional_data.next_cursor).toBeNull();
      // Without updated_since the demo deal, added before, is listed too; newest first on request.
      const all = (await client.api(tokens, 'GET', '/api/v2/deals?sort_by=id&sort_direction=desc')).body.data.map((deal: Json) => deal.id);
      expect(all).toEqual([created[4].id, created[1].id, created[0].id, sim.demo.dealId]);

      for (const bad of ['updated_since=yesterday', 'sort_by=title', 'sort_direction=up', 'limit=501', 'cursor=nonsense']) {
        expect((await client.api(tokens, 'GET', `/api/v2/deals?${bad}`)).status).toBe(400);
      }
    });

    it('PATCH status sets won_time only while won; stage_id moves the deal; bad input → 400', async () => {
      const path = `/api/v2/deals/${sim.demo.dealId}`;
      const won = (await client.api(tokens, 'PATCH', path, { status: 'won' })).body.data;
      expect(won.status).toBe('won');
      expect(won.won_time).toMatch(RFC3339);
      const lost = (await client.api(tokens, 'PATCH', path, { status: 'lost' })).body.data;
      expect(lost).toMatchObject({ status: 'lost', won_time: null });
      expect(lost.lost_time).toMatch(RFC3339);
      const reopened = (await client.api(tokens, 'PATCH', path, { status: 'open' })).body.data;
      expect(reopened).toMatchObject({ status: 'open', won_time: null, lost_time: null });

      const stage = sim.demo.stageIds[2];
      expect((await client.api(tokens, 'PATCH', path, { stage_id: stage })).body.data).toMatchObject({ stage_id: stage, pipeline_id: sim.demo.pipelineId });
      expect((await client.api(tokens, 'PATCH', path, { stage_id: 987654 })).status).toBe(400);
      expect((await client.api(tokens, 'PATCH', path, { status: 'done' })).status).toBe(400);
    });

    it('refuses to edit an archived deal and answers 404 for a deleted one', async () => {
      const companyPath = `/companies/${sim.demo.companyId}/deals`;
      await client.control('POST', `${companyPath}/${sim.demo.dealId}/archive`);
      const archived = await client.api(tokens, 'PATCH', `/api/v2/deals/${sim.demo.dealId}`, { status: 'won' });
      expect(archived.status).toBe(400);
      expect(archived.body).toMatchObject({ success: false, error: expect.stringMatching(/archived/i) });
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).body.data).toMatchObject({ is_archived: true, status: 'open', won_time: null });

      const doomed = (await client.control('POST', companyPath, { title: 'Doomed' })).body;
      await client.control('DELETE', `${companyPath}/${doomed.id}`);
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${doomed.id}`)).status).toBe(404);
    });

    it('GET /api/v2/persons/:id answers emails with a primary one, or none', async () => {
      const withEmail = (await client.api(tokens, 'GET', `/api/v2/persons/${sim.demo.personWithEmailId}`)).body.data;
      expect(withEmail.emails).toEqual([{ value: 'pia@customer.test', primary: true, label: 'work' }]);
      expect(Array.isArray(withEmail.phones)).toBe(true);
      const without = (await client.api(tokens, 'GET', `/api/v2/persons/${sim.demo.personWithoutEmailId}`)).body.data;
      expect(without.emails).toEqual([]);
    });

    it('stores a multipart upload on the deal, lists it and gives the bytes back', async () => {
      const pdf = Buffer.from('%PDF-1.7\n signed contract \n%%EOF');
      const form = new FormData();
      form.append('file', new Blob([pdf], { type: 'application/pdf' }), 'contract-signed.pdf');
      form.append('deal_id', String(sim.demo.dealId));
      const upload = await client.api(tokens, 'POST', '/api/v1/files', form);
      expect(upload.status).toBe(201);
      expect(upload.body.data).toMatchObject({ id: expect.any(Number), file_name: 'contract-signed.pdf', file_size: pdf.length, deal_id: sim.demo.dealId });

      const listed = await client.api(tokens, 'GET', `/api/v1/deals/${sim.demo.dealId}/files`);
      expect(listed.body.data.map((file: Json) => file.id)).toEqual([upload.body.data.id]);
      const download = await fetch(`${tokens.api_domain}/api/v1/files/${upload.body.data.id}/download`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(Buffer.from(await download.arrayBuffer())).toEqual(pdf);

      const stored = (await client.control('GET', `/companies/${sim.demo.companyId}/files`)).body;
      expect(stored).toEqual([expect.objectContaining({ id: upload.body.data.id, deal_id: sim.demo.dealId, file_size: pdf.length })]);
      const noDeal = new FormData();
      noDeal.append('file', new Blob([pdf]), 'x.pdf');
      expect((await client.api(tokens, 'POST', '/api/v1/files', noDeal)).status).toBe(400);
    });

    it('creates pinned notes (sanitised HTML) and lists them by deal', async () => {
      const created = await client.api(tokens, 'POST', '/api/v1/notes', { deal_id: sim.demo.dealId, content: '<b>Signed</b><script>alert(1)</script>', pinned_to_deal_flag: 1 });
      expect(created.status).toBe(201);
      expect(created.body.data).toMatchObject({ deal_id: sim.demo.dealId, content: '<b>Signed</b>', pinned_to_deal_flag: true });
      const listed = await client.api(tokens, 'GET', `/api/v1/notes?deal_id=${sim.demo.dealId}`);
      expect(listed.body.data).toEqual([expect.objectContaining({ id: created.body.data.id })]);
    });

    it('webhooks: create with the reference fields, list as type application, delete', async () => {
      const created = await client.api(tokens, 'POST', '/api/v1/webhooks', {
        subscription_url: `${receiver.url}/hook`,
        event_action: '*',
        event_object: 'deal',
        name: 'deals',
        http_auth_user: 'u',
        http_auth_password: 'p',
      });
      expect(created.status).toBe(201);
      expect(created.body.data).toMatchObject({ id: expect.any(Number), version: '2.0', type: 'application', http_auth_user: 'u', http_auth_password: 'p', event_action: '*', event_object: 'deal' });
      const listed = await client.api(tokens, 'GET', '/api/v1/webhooks');
      expect(listed.body.data).toEqual([expect.objectContaining({ id: created.body.data.id, type: 'application' })]);
      expect((await client.api(tokens, 'DELETE', `/api/v1/webhooks/${created.body.data.id}`)).status).toBe(200);
      expect((await client.api(tokens, 'GET', '/api/v1/webhooks')).body.data).toEqual([]);
      expect((await client.api(tokens, 'POST', '/api/v1/webhooks', { subscription_url: 'not a url', event_action: '*', event_object: 'deal' })).status).toBe(400);
    });

    it('allows at most 40 webhooks per app user', async () => {
      const create = () => client.api(tokens, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: 'change', event_object: 'deal' });
      for (let i = 0; i < 40; i += 1) expect((await create()).status).toBe(201);
      const over = await create();
      expect(over.status).toBe(400);
      expect(over.body.success).toBe(false);
    });

    it("lists and deletes the app's webhooks company-wide, or, under the per-user readings, only the caller's own", async () => {
      const other = await client.install(sim.demo.regularUserId);
      const created = await client.api(tokens, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: '*', event_object: 'deal' });
      const id = created.body.data.id;
      expect((await client.api(other, 'GET', '/api/v1/webhooks')).body.data.map((hook: { id: number }) => hook.id)).toEqual([id]);

      await client.control('PUT', '/webhook-access', { list: 'own', delete: 'own' });
      expect((await client.api(other, 'GET', '/api/v1/webhooks')).body.data).toEqual([]);
      const refused = await client.api(other, 'DELETE', `/api/v1/webhooks/${id}`);
      expect(refused.status).toBe(403);
      expect(refused.body.success).toBe(false);
      expect((await client.api(tokens, 'DELETE', `/api/v1/webhooks/${id}`)).status).toBe(200);
    });

    it('answers 403 "Scope and URL mismatch" to a token without the needed scope', async () => {
      await client.control('PATCH', '/app', { scopes: ['base', 'deals:read'] });
      const limited = await client.install(sim.demo.regularUserId);
      expect(limited.scope).toBe('base,deals:read');
      const hook = await client.api(limited, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: '*', event_object: 'deal' });
      expect(hook.status).toBe(403);
      expect(hook.body).toMatchObject({ success: false, error: 'Scope and URL mismatch' });
      expect((await client.api(limited, 'PATCH', `/api/v2/deals/${sim.demo.dealId}`, { status: 'won' })).status).toBe(403);
      expect((await client.api(limited, 'GET', `/api/v2/persons/${sim.demo.personWithEmailId}`)).status).toBe(403);
      expect((await client.api(limited, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).status).toBe(200);
    });
  });

  describe('webhook delivery', () => {
    let tokens: Json;
    const subscribe = async (who: Json, extra: Json = {}) =>
      (
        await client.api(who, 'POST', '/api/v1/webhooks', {
          subscription_url: `${receiver.url}/hook`,
          event_action: '*',
          event_object: 'deal',
          http_auth_user: 'hook-user',
          http_auth_password: 'hook-pass',
          ...extra,
        })
      ).body.data as Json;
    const deals = () => `/companies/${sim.demo.companyId}/deals`;

    beforeEach(async () => {
      tokens = await client.install(sim.demo.adminUserId);
    });

    it('POSTs the v2 payload with Basic auth for create, change and delete', async () => {
      const webhook = await subscribe(tokens);
      const deal = (await client.control('POST', deals(), { title: 'Hooked', person_id: sim.demo.personWithEmailId, value: 10 })).body;
      await client.control('PATCH', `${deals()}/${deal.id}`, { status: 'won' });
      await client.control('DELETE', `${deals()}/${deal.id}`);
      await waitFor(() => receiver.received.length >= 3);
      const [created, changed, deleted] = [...receiver.received].sort((a, b) => ['create', 'change', 'delete'].indexOf(a.body.meta.action) - ['create', 'change', 'delete'].indexOf(b.body.meta.action));

      expect(created.method).toBe('POST');
      expect(created.headers.authorization).toBe(`Basic ${Buffer.from('hook-user:hook-pass').toString('base64')}`);
      expect(created.headers['content-type']).toMatch(/application\/json/);
      expect(created.body.data).toMatchObject({ id: deal.id, title: 'Hooked', person_id: sim.demo.personWithEmailId, status: 'open', value: 10, custom_fields: {} });
      expect(created.body.previous).toBeNull();
      expect(created.body.meta).toEqual(
        expect.objectContaining({
          action: 'create',
          entity: 'deal',
          entity_id: String(deal.id),
          id: expect.stringMatching(UUID),
          company_id: String(sim.demo.companyId),
          user_id: String(sim.demo.adminUserId),
          correlation_id: expect.any(String),
          timestamp: expect.stringMatching(RFC3339),
          version: '2.0',
          webhook_id: String(webhook.id),
          webhook_owner_id: String(sim.demo.adminUserId),
          attempt: 1,
          is_bulk_edit: false,
          type: 'application',
          host: 'acme.pipedrive.com',
        }),
      );
      expect(changed.body.data).toMatchObject({ id: deal.id, status: 'won' });
      expect(changed.body.previous).toMatchObject({ status: 'open' });
      expect(deleted.body.data).toBeNull();
      expect(deleted.body.previous).toMatchObject({ id: deal.id, status: 'won' });
      expect(new Set(receiver.received.map((request) => request.body.meta.id)).size).toBe(3);
    });

    it('a merge sends a delete of the merged deal naming the other (merged_to_id), then a change of the other; files and notes move there', async () => {
      await subscribe(tokens);
      const merged = (await client.control('POST', deals(), { title: 'Duplicate' })).body;
      const kept = (await client.control('POST', deals(), { title: 'Kept' })).body;
      await client.control('POST', `/companies/${sim.demo.companyId}/files`, { dealId: merged.id, names: ['quote.pdf'] });
      receiver.received.length = 0;
      expect((await client.control('POST', `${deals()}/${merged.id}/merge`, { mergeWithId: kept.id })).status).toBe(200);
      await waitFor(() => receiver.received.length >= 2);
      const deleted = receiver.received.find((request) => request.body.meta.action === 'delete')!;
      const changed = receiver.received.find((request) => request.body.meta.action === 'change')!;
      expect(deleted.body.meta).toMatchObject({ entity_id: String(merged.id), merged_to_id: String(kept.id) });
      expect(changed.body.meta).toMatchObject({ entity_id: String(kept.id) });
      expect(changed.body.meta.merged_to_id).toBeUndefined();
      const files = (await client.control('GET', `/companies/${sim.demo.companyId}/files`)).body as Json[];
      expect(files.filter((file) => file.file_name === 'quote.pdf').map((file) => file.deal_id)).toEqual([kept.id]);
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${merged.id}`)).status).toBe(404);
    });

    it('announces the app own API changes and person events only to matching webhooks', async () => {
      await subscribe(tokens, { event_action: 'change', event_object: 'deal' });
      await subscribe(tokens, { event_action: 'create', event_object: 'person' });
      await client.api(tokens, 'PATCH', `/api/v2/deals/${sim.demo.dealId}`, { status: 'won' });
      const person = (await client.control('POST', `/companies/${sim.demo.companyId}/persons`, { name: 'New signer', emails: ['new@customer.test'] })).body;
      await client.control('POST', deals(), { title: 'Not subscribed: create.deal' });
      await waitFor(() => receiver.received.length >= 2);
      await sleep(30);
      expect(receiver.received).toHaveLength(2);
      const byEntity = Object.fromEntries(receiver.received.map((request) => [request.body.meta.entity, request.body]));
      expect(byEntity.deal.meta).toMatchObject({ action: 'change', change_source: 'api', entity_id: String(sim.demo.dealId) });
      expect(byEntity.deal.data.won_time).toMatch(RFC3339);
      expect(byEntity.person.meta).toMatchObject({ action: 'create', entity_id: String(person.id) });
      expect(byEntity.person.data.emails).toEqual([{ value: 'new@customer.test', primary: true, label: 'work' }]);
    });

    it('sends a deal event only to webhooks whose user may see the deal (owner-only deals: their owner and admins)', async () => {
      const regular = await client.install(sim.demo.regularUserId);
      await subscribe(regular, { event_action: 'create' });
      await subscribe(tokens, { event_action: 'create' });
      const hidden = (await client.control('POST', deals(), { title: 'Owner only', owner_id: sim.demo.adminUserId, visible_to: 1 })).body;
      const shared = (await client.control('POST', deals(), { title: 'Everyone', visible_to: 3 })).body;
      await waitFor(() => receiver.received.length >= 3);
      await sleep(30);
      const seen = receiver.received.map((request) => `${request.body.meta.webhook_owner_id}:${request.body.meta.entity_id}`).sort();
      expect(seen).toEqual(
        [`${sim.demo.adminUserId}:${hidden.id}`, `${sim.demo.adminUserId}:${shared.id}`, `${sim.demo.regularUserId}:${shared.id}`].sort(),
      );
    });

    it('sends the v1 payload to a webhook created with version 1.0', async () => {
      await subscribe(tokens, { version: '1.0', event_action: 'create' });
      const deal = (await client.control('POST', deals(), { title: 'Old style' })).body;
      await client.control('DELETE', `${deals()}/${deal.id}`);
      const request = await waitFor(() => receiver.received[0]);
      await sleep(30);
      expect(receiver.received).toHaveLength(1);
      expect(request.body).toMatchObject({
        v: 1,
        event: 'added.deal',
        meta: { action: 'added', object: 'deal', id: deal.id, company_id: sim.demo.companyId, user_id: sim.demo.adminUserId },
        current: { id: deal.id, title: 'Old style' },
        previous: null,
        retry: 0,
      });
    });

    it('retries a failed delivery after 3, 30 and 150 s (time-scaled), attempts 1–4', async () => {
      await withSimulator({ timeScale: 0.02 }, callbackUrl, async (scaled) => {
        receiver.respond = () => 500;
        const own = await scaled.install(scaled.sim.demo.adminUserId);
        await scaled.api(own, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: 'create', event_object: 'deal' });
        await scaled.control('POST', `/companies/${scaled.sim.demo.companyId}/deals`, { title: 'Retry me' });
        await waitFor(() => receiver.received.length >= 4, 8000);
        await sleep(100);
        expect(receiver.received.map((request) => request.body.meta.attempt)).toEqual([1, 2, 3, 4]);
        expect(new Set(receiver.received.map((request) => request.body.meta.id)).size).toBe(1);
        const gaps = receiver.received.slice(1).map((request, index) => request.at - receiver.received[index].at);
        // The upper bound leaves room for a stall of the loaded machine, and still tells each delay from the next.
        [60, 600, 3000].forEach((expected, index) => {
          expect(gaps[index]).toBeGreaterThanOrEqual(expected - 5);
          expect(gaps[index]).toBeLessThan(expected + 400);
        });
      });
    });

    it('bans a webhook for 30 min (scaled) after 10 first-attempt failures and loses events meanwhile', async () => {
      await withSimulator({ timeScale: 0.001 }, callbackUrl, async (scaled) => {
        const companyId = scaled.sim.demo.companyId;
        receiver.respond = (request) => (request.body.meta.attempt === 1 ? 500 : 200);
        const own = await scaled.install(scaled.sim.demo.adminUserId);
        await scaled.api(own, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: 'create', event_object: 'deal' });
        for (let i = 0; i < 10; i += 1) {
          await scaled.control('POST', `/companies/${companyId}/deals`, { title: `Fail ${i}` });
          await waitFor(() => receiver.received.filter((request) => request.body.meta.attempt === 1).length > i);
        }
        const [hook] = (await scaled.control('GET', `/companies/${companyId}/webhooks`)).body;
        expect(hook.banned_until).toEqual(expect.any(String));

        const lostDeal = (await scaled.control('POST', `/companies/${companyId}/deals`, { title: 'Lost' })).body;
        await sleep(20);
        expect(receiver.received.some((request) => request.body.data?.id === lostDeal.id)).toBe(false);
        const lost = (await scaled.control('GET', '/webhooks/lost')).body as Json[];
        expect(lost.filter((event) => event.entityId === lostDeal.id)).toEqual([expect.objectContaining({ webhookId: hook.id, attempt: 1, reason: 'banned' })]);
        // A retry due inside the ban window is lost as well.
        expect(lost.every((event) => event.reason === 'banned')).toBe(true);

        await sleep(1900); // ban: 30 min × 0.001 = 1.8 s
        receiver.respond = () => 200;
        const afterBan = (await scaled.control('POST', `/companies/${companyId}/deals`, { title: 'After ban' })).body;
        await waitFor(() => receiver.received.find((request) => request.body.data?.id === afterBan.id));
      });
    });

    it('deletes a webhook after 3 days (scaled) without a successful delivery', async () => {
      await withSimulator({ timeScale: 0.000005 }, callbackUrl, async (scaled) => {
        const companyId = scaled.sim.demo.companyId;
        receiver.respond = () => 500;
        const own = await scaled.install(scaled.sim.demo.adminUserId);
        await scaled.api(own, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: 'create', event_object: 'deal' });
        await scaled.control('POST', `/companies/${companyId}/deals`, { title: 'First failure' });
        await waitFor(() => receiver.received.length >= 4);
        expect((await scaled.api(own, 'GET', '/api/v1/webhooks')).body.data).toHaveLength(1);
        await sleep(1400); // 3 days × 0.000005 ≈ 1.3 s
        await scaled.control('POST', `/companies/${companyId}/deals`, { title: 'Still failing' });
        await waitFor(() => receiver.received.length >= 5);
        await sleep(50);
        expect((await scaled.api(own, 'GET', '/api/v1/webhooks')).body.data).toEqual([]);
      });
    });

    it('drops, duplicates and reorders deliveries on request', async () => {
      await subscribe(tokens, { event_action: 'create' });
      await client.control('POST', '/webhooks/drop', { count: 1 });
      const dropped = (await client.control('POST', deals(), { title: 'Dropped' })).body;
      await client.control('POST', '/webhooks/duplicate', { count: 1 });
      const duplicated = (await client.control('POST', deals(), { title: 'Duplicated' })).body;
      await waitFor(() => receiver.received.filter((request) => request.body.data.id === duplicated.id).length === 2);
      const copies = receiver.received.filter((request) => request.body.data.id === duplicated.id);
      expect(copies[0].body.meta.id).toBe(copies[1].body.meta.id);
      await sleep(20);
      expect(receiver.received.some((request) => request.body.data.id === dropped.id)).toBe(false);

      receiver.received.length = 0;
      await client.control('POST', '/webhooks/hold');
      const first = (await client.control('POST', deals(), { title: 'First' })).body;
      const second = (await client.control('POST', deals(), { title: 'Second' })).body;
      await sleep(20);
      expect(receiver.received).toHaveLength(0);
      await client.control('POST', '/webhooks/release', { order: 'reverse' });
      await waitFor(() => receiver.received.length >= 2);
      expect(receiver.received.map((request) => request.body.data.id)).toEqual([second.id, first.id]);
    });
  });

  describe('uninstall from Pipedrive', () => {
    it('DELETEs the callback with Basic client credentials and the reference body, and removes tokens and webhooks', async () => {
      const tokens = await client.install(sim.demo.adminUserId);
      await client.api(tokens, 'POST', '/api/v1/webhooks', { subscription_url: `${receiver.url}/hook`, event_action: '*', event_object: 'deal' });
      receiver.respond = (request) => (request.method === 'DELETE' ? 204 : 200);
      const result = await client.control('POST', '/uninstall', { companyId: sim.demo.companyId, userId: sim.demo.adminUserId });
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({ webhooksDeleted: 1, notice: { delivered: true, status: 204 } });

      const notice = receiver.received.find((request) => request.method === 'DELETE');
      expect(notice?.path).toBe('/auth/pipedrive/callback');
      expect(notice?.headers.authorization).toBe(BASIC);
      expect(notice?.body).toEqual({ client_id: CLIENT_ID, company_id: sim.demo.companyId, user_id: sim.demo.adminUserId, timestamp: expect.any(String) });
      expect((await client.api(tokens, 'GET', '/api/v1/users/me')).status).toBe(401);
      expect((await client.control('GET', `/companies/${sim.demo.companyId}/webhooks`)).body).toEqual([]);
    });
  });

  describe('rate limits', () => {
    it('sends x-ratelimit-* headers on API answers', async () => {
      const tokens = await client.install(sim.demo.adminUserId);
      const res = await client.api(tokens, 'GET', '/api/v1/users/me');
      expect(res.headers.get('x-ratelimit-limit')).toBe('80');
      expect(res.headers.get('x-ratelimit-remaining')).toBe('79');
      expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
    });

    it('answers 429 once the 2-second burst window of a token is full', async () => {
      await withSimulator({ rateLimit: { burstPer2s: 5 } }, callbackUrl, async (limited) => {
        const tokens = await limited.install(limited.sim.demo.adminUserId);
        for (let i = 0; i < 5; i += 1) expect((await limited.api(tokens, 'GET', '/api/v1/users/me')).status).toBe(200);
        const over = await limited.api(tokens, 'GET', '/api/v1/users/me');
        expect(over.status).toBe(429);
        expect(over.headers.get('x-ratelimit-remaining')).toBe('0');
        const reset = Number(over.headers.get('x-ratelimit-reset'));
        expect(reset).toBeGreaterThanOrEqual(1);
        expect(reset).toBeLessThanOrEqual(2);
        // Another token of the same company has its own window.
        const other = await limited.install(limited.sim.demo.regularUserId);
        expect((await limited.api(other, 'GET', '/api/v1/users/me')).status).toBe(200);
      });
    });

    it('answers 429 until midnight UTC once the daily budget is spent, by the reference costs, with only the burst window in its headers', async () => {
      const tokens = await client.install(sim.demo.adminUserId);
      const budgetPath = `/rate-limits/${sim.demo.companyId}`;
      expect((await client.control('GET', budgetPath)).body).toMatchObject({ dailyBudget: 60000, spent: 0 });
      await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`);
      await client.api(tokens, 'PATCH', `/api/v2/deals/${sim.demo.dealId}`, { status: 'won' });
      await client.api(tokens, 'GET', '/api/v1/users/me');
      await client.api(tokens, 'GET', `/api/v1/notes?deal_id=${sim.demo.dealId}`);
      expect((await client.control('GET', budgetPath)).body.spent).toBe(1 + 5 + 2 + 20);

      await client.control('PUT', budgetPath, { remaining: 2 });
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).status).toBe(200);
      const over = await client.api(tokens, 'GET', '/api/v1/users/me');
      expect(over.status).toBe(429);
      expect(over.body).toMatchObject({ success: false, error: 'Daily token budget exceeded' });
      expect(Number(over.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(2);
      expect(Number(over.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).status).toBe(200);
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).status).toBe(429);

      await client.control('POST', '/rate-limits/reset', { companyId: sim.demo.companyId });
      expect((await client.api(tokens, 'GET', '/api/v1/users/me')).status).toBe(200);
    });
  });

  describe('kit controls', () => {
    it('injects faults on a route and logs requests', async () => {
      const tokens = await client.install(sim.demo.adminUserId);
      const dealPath = `/c/${sim.demo.companyId}/api/v2/deals/*`;
      expect((await client.control('POST', '/faults', { method: 'GET', path: dealPath, status: 503, count: 1 })).status).toBeLessThan(300);
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).status).toBe(503);
      expect((await client.api(tokens, 'GET', `/api/v2/deals/${sim.demo.dealId}`)).status).toBe(200);

      const log = (await client.control('GET', '/requests')).body as Json[];
      const dealCalls = log.filter((entry) => entry.path === `/c/${sim.demo.companyId}/api/v2/deals/${sim.demo.dealId}`);
      expect(dealCalls.map((entry) => entry.status)).toEqual([503, 200]);
      expect(log.some((entry) => entry.path === '/oauth/token' && entry.method === 'POST')).toBe(true);
    });

    it('resets to the seeded state', async () => {
      await client.control('POST', `/companies/${sim.demo.companyId}/deals`, { title: 'Extra' });
      await client.control('POST', '/reset');
      const dealsAfter = (await client.control('GET', `/companies/${sim.demo.companyId}/deals`)).body as Json[];
      expect(dealsAfter.map((deal) => deal.id)).toEqual([sim.demo.dealId]);
    });
  });
});
