import { createHmac } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import { type DottedSignSimulator, startDottedSignSimulator } from '../../src/sandbox/dottedsign/dottedsign.simulator';

interface Received {
  body: string;
  signature: string | undefined;
  json: { action_name: string; resource_type: string; event_datetime: string; event_email: string; task: { task_id: number; metadata: Record<string, string> } };
}

const CLIENT = { clientId: 'ds-client', clientSecret: 'ds-secret' };
const FILE_NAME = /^(?!.*["*:<>?/\\|~#%&{}])[^.].*$/;

describe('DottedSign simulator, pinned to shared/reference/dottedsign.md', () => {
  let sim: DottedSignSimulator;
  let receiver: Server;
  let received: Received[] = [];
  let receiverStatus = 200;
  let token: string;

  const api = async (method: string, path: string, body?: unknown, bearer = token) => {
    const response = await fetch(`${sim.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, json: (await response.json().catch(() => null)) as any };
  };
  const grant = async (body: Record<string, string>) =>
    fetch(`${sim.url}/v1/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, ...body }) });
  const control = (path: string, body: unknown = {}) => fetch(`${sim.url}/_sim${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const quickCreate = (overrides: Record<string, unknown> = {}) =>
    api('POST', '/v1/sign_tasks/quick_create', {
      file_name: 'Contract - Acme deal',
      template_id: 1,
      stages: [{ email: 'jane@acme.com', name: 'Jane Doe' }],
      start: true,
      metadata: { pipedrive_deal_id: '999', pipedrive_company_id: '8087566' },
      ...overrides,
    });
  const waitFor = async (predicate: () => boolean) => {
    for (let i = 0; i < 200 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(predicate()).toBe(true);
  };

  beforeAll(async () => {
    receiver = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push({ body, signature: req.headers.signature as string | undefined, json: JSON.parse(body) });
        res.writeHead(receiverStatus).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
    const port = (receiver.address() as { port: number }).port;
    sim = await startDottedSignSimulator({ ...CLIENT, webhookUrl: `http://127.0.0.1:${port}/hook`, timeScale: 0.001, downloadLinkTtlSeconds: 1, rateLimit: { requests: 1000, windowMs: 60_000 } });
    token = ((await (await grant({ grant_type: 'client_credentials' })).json()) as { access_token: string }).access_token;
  });
  beforeEach(() => {
    received = [];
    receiverStatus = 200;
  });
  afterAll(async () => {
    await sim.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  describe('OAuth', () => {
    it('issues tokens for client_credentials and rejects a wrong client with invalid_client', async () => {
      const ok = (await (await grant({ grant_type: 'client_credentials' })).json()) as Record<string, unknown>;
      expect(ok).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
      expect(typeof ok.access_token).toBe('string');
      const wrong = await fetch(`${sim.url}/v1/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 'x', client_secret: 'y', grant_type: 'client_credentials' }) });
      expect(wrong.status).toBe(400);
      expect(await wrong.json()).toEqual({ error_code: 400005, error_key: 'invalid_client', error_message: 'invalid client' });
    });

    it('runs the authorization code flow with a single-use code and rotating refresh tokens', async () => {
      const authorize = await fetch(`${sim.url}/v1/oauth/authorize?client_id=${CLIENT.clientId}&response_type=code&redirect_uri=http://app.test/cb&state=s1&_sim_account=owner@sandbox.test`, { redirect: 'manual' });
      const location = new URL(authorize.headers.get('location')!);
      expect(location.searchParams.get('state')).toBe('s1');
      const code = location.searchParams.get('code')!;
      const tokens = (await (await grant({ grant_type: 'authorization_code', code, redirect_uri: 'http://app.test/cb' })).json()) as Record<string, string>;
      expect(tokens.refresh_token).toBeDefined();
      expect((await grant({ grant_type: 'authorization_code', code, redirect_uri: 'http://app.test/cb' })).status).toBe(400);
      const refreshed = await grant({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
      expect(refreshed.status).toBe(200);
      expect((await grant({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).status).toBe(400);
    });

    it('answers an expired token with 401 and the error body shape', async () => {
      const short = ((await (await grant({ grant_type: 'client_credentials' })).json()) as { access_token: string }).access_token;
      await control('/tokens/expire');
      const response = await api('GET', '/v1/templates/list', undefined, short);
      expect(response.status).toBe(401);
      expect(response.json).toMatchObject({ error_code: 401002, error_key: 'invalid_token' });
      token = ((await (await grant({ grant_type: 'client_credentials' })).json()) as { access_token: string }).access_token;
    });
  });

  describe('tasks', () => {
    it('quick create validates file_name, metadata limits and template access', async () => {
      expect((await quickCreate({ file_name: 'a: b' })).json.error_key).toBe('invalid_params');
      expect((await quickCreate({ file_name: '.hidden' })).json.error_key).toBe('invalid_params');
      expect((await quickCreate({ file_name: 'x'.repeat(256) })).json.error_key).toBe('invalid_params');
      const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']));
      expect((await quickCreate({ metadata: eleven })).status).toBe(400);
      expect((await quickCreate({ metadata: { ['k'.repeat(41)]: 'v' } })).status).toBe(400);
      expect((await quickCreate({ metadata: { k: 'v'.repeat(101) } })).status).toBe(400);
      await control('/templates', { account: 'someone@else.test', name: 'Not yours' });
      const foreign = await quickCreate({ template_id: 3 });
      expect(foreign.status).toBe(403);
      expect(foreign.json).toEqual({ error_code: 403044, error_key: 'template_not_accessible', error_message: 'template not accessible' });
      expect('Contract - Acme deal').toMatch(FILE_NAME);
    });

    it('creates a waiting task with start:true and a draft without; the read shape carries metadata and signers', async () => {
      const started = await quickCreate();
      expect(started.status).toBe(200);
      const read = await api('GET', `/v1/sign_tasks/read?task_id=${started.json.data.task_id}`);
      expect(read.json.data).toMatchObject({ status: 'waiting', file_name: 'Contract - Acme deal', metadata: { pipedrive_deal_id: '999' } });
      expect(read.json.data.stages[0].signers[0]).toMatchObject({ email: 'jane@acme.com', status: 'waiting', signed_at: null });
      const draft = await quickCreate({ start: false });
      expect((await api('GET', `/v1/sign_tasks/read?task_id=${draft.json.data.task_id}`)).json.data.status).toBe('draft');
    });

    it('follows the status machine: void only from waiting, discard only from draft and final states', async () => {
      const waiting = (await quickCreate()).json.data.task_id;
      expect((await api('POST', '/v1/sign_tasks/discard', { task_id: waiting })).json.error_key).toBe('invalid_action');
      expect((await api('POST', '/v1/sign_tasks/void', { task_id: waiting, reason: 'changed mind' })).status).toBe(200);
      const voidAgain = await api('POST', '/v1/sign_tasks/void', { task_id: waiting, reason: 'again' });
      expect(voidAgain.json).toMatchObject({ error_code: 403002, error_key: 'invalid_action' });
      expect((await api('POST', '/v1/sign_tasks/discard', { task_id: waiting })).status).toBe(200);
      expect((await api('GET', `/v1/sign_tasks/read?task_id=${waiting}`)).json).toMatchObject({ error_code: 400033, error_key: 'task_deleted' });
    });

    it('lists with metadata and status filters and pagination', async () => {
      for (let i = 0; i < 3; i++) await quickCreate({ metadata: { pipedrive_deal_id: 'list-test' } });
      const page1 = await api('GET', '/v1/sign_tasks/list?metadata_key=pipedrive_deal_id&metadata_value=list-test&per_page=2&page=1');
      expect(page1.json.data.tasks).toHaveLength(2);
      expect(page1.json.data).toMatchObject({ total: 3, total_pages: 2 });
      const page2 = await api('GET', '/v1/sign_tasks/list?metadata_key=pipedrive_deal_id&metadata_value=list-test&per_page=2&page=2');
      expect(page2.json.data.tasks).toHaveLength(1);
      const voided = await api('GET', '/v1/sign_tasks/list?status=voided');
      expect(voided.json.data.tasks.every((task: { status: string }) => task.status === 'voided')).toBe(true);
    });

    it('answers over_monthly_task_usage when the quota is spent', async () => {
      await fetch(`${sim.url}/_sim/accounts/owner@sandbox.test`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quota: 0 }) });
      const response = await quickCreate();
      expect(response.status).toBe(403);
      expect(response.json).toEqual({ error_code: 403032, error_key: 'over_monthly_task_usage', error_message: 'over monthly task usage' });
      await fetch(`${sim.url}/_sim/accounts/owner@sandbox.test`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ quota: 1000 }) });
    });
  });

  describe('signing, files and webhooks', () => {
    it('signs webhooks with HMAC-SHA256 of the raw body (hex) and sends signed → completed', async () => {
      const id = (await quickCreate({ stages: [{ email: 'a@x.test', name: 'A' }, { email: 'b@x.test', name: 'B' }] })).json.data.task_id;
      await control(`/tasks/${id}/sign`, { email: 'a@x.test' });
      await control(`/tasks/${id}/sign`, { email: 'b@x.test' });
      await waitFor(() => received.filter((hook) => hook.json.task.task_id === id).length >= 5);
      const actions = received.filter((hook) => hook.json.task.task_id === id).map((hook) => hook.json.action_name);
      expect(actions).toEqual(['created', 'sent', 'signed', 'signed', 'completed']);
      for (const hook of received) {
        expect(hook.signature).toBe(createHmac('sha256', CLIENT.clientSecret).update(hook.body).digest('hex'));
        expect(hook.json.resource_type).toBe('SignTask');
        expect(hook.json.event_datetime).toMatch(/^\d{10}$/);
      }
      expect(received.at(-1)!.json.task.metadata).toMatchObject({ pipedrive_deal_id: '999' });
    });

    it('serves the signed PDF and audit trail through short-lived links', async () => {
      const id = (await quickCreate()).json.data.task_id;
      expect((await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=completed`)).json.error_key).toBe('invalid_action');
      await control(`/tasks/${id}/sign`, { email: 'jane@acme.com' });
      const links = (await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=completed,audit_trail`)).json.data;
      const pdf = await fetch(links.completed);
      expect(pdf.headers.get('content-type')).toBe('application/pdf');
      const bytes = Buffer.from(await pdf.arrayBuffer());
      expect(bytes.subarray(0, 8).toString()).toBe('%PDF-1.4');
      expect(bytes.toString('latin1')).toContain('%%EOF');
      expect((await fetch(links.audit_trail)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await fetch(links.completed)).status).toBe(410);
    });

    it('declines with a reason, and retries a webhook the receiver failed', async () => {
      receiverStatus = 500;
      const id = (await quickCreate()).json.data.task_id;
      await control(`/tasks/${id}/decline`, { email: 'jane@acme.com', reason: 'Price too high' });
      await waitFor(() => received.filter((hook) => hook.json.action_name === 'declined').length >= 2);
      receiverStatus = 200;
      const read = await api('GET', `/v1/sign_tasks/read?task_id=${id}`);
      expect(read.json.data.status).toBe('declined');
      expect(read.json.data.stages[0].signers[0].decline_reason).toBe('Price too high');
      const attempts = sim.webhooks.attempts().filter((attempt) => attempt.body.includes('"declined"'));
      expect(attempts.map((attempt) => attempt.attempt).slice(0, 2)).toEqual([1, 2]);
    });

    it('drops, duplicates and reverses deliveries on request', async () => {
      await control('/webhooks/drop', { count: 1 });
      await control('/webhooks/duplicate', { count: 1 });
      const id = (await quickCreate({ start: false })).json.data.task_id; // its `created` is dropped
      await control('/webhooks/hold');
      const started = await quickCreate(); // created, sent (held)
      await control('/webhooks/release', { order: 'reverse' });
      await waitFor(() => received.some((hook) => hook.json.task.task_id === started.json.data.task_id && hook.json.action_name === 'created'));
      const forStarted = received.filter((hook) => hook.json.task.task_id === started.json.data.task_id).map((hook) => hook.json.action_name);
      expect(forStarted.indexOf('sent')).toBeLessThan(forStarted.lastIndexOf('created'));
      expect(received.filter((hook) => hook.json.task.task_id === id)).toEqual([]);
    });

    it('injects faults and rate limits with Retry-After', async () => {
      await control('/faults', { method: 'POST', path: '/v1/sign_tasks/quick_create', status: 500, count: 2, body: { error_code: 500000, error_key: 'internal_error', error_message: 'boom' } });
      expect((await quickCreate()).status).toBe(500);
      expect((await quickCreate()).status).toBe(500);
      expect((await quickCreate()).status).toBe(200);
      const limited = await startDottedSignSimulator({ ...CLIENT, rateLimit: { requests: 2, windowMs: 60_000 } });
      try {
        const fresh = ((await (await fetch(`${limited.url}/v1/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...{ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }, grant_type: 'client_credentials' }) })).json()) as { access_token: string }).access_token;
        const call = () => fetch(`${limited.url}/v1/templates/list`, { headers: { authorization: `Bearer ${fresh}` } });
        await call();
        await call();
        const third = await call();
        expect(third.status).toBe(429);
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      } finally {
        await limited.close();
      }
    });

    it('records every API request for tests to read back', async () => {
      const before = ((await (await fetch(`${sim.url}/_sim/requests?path=/v1/templates/list`)).json()) as unknown[]).length;
      await api('GET', '/v1/templates/list');
      const after = (await (await fetch(`${sim.url}/_sim/requests?path=/v1/templates/list`)).json()) as Array<{ headers: Record<string, string>; status: number }>;
      expect(after).toHaveLength(before + 1);
      expect(after.at(-1)!.status).toBe(200);
    });
  });
});
