import { createHmac } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { SCOPES } from '../../src/sandbox/dottedsign/dottedsign-oauth.routes';
import { type DottedSignSimulator, type DottedSignSimulatorOptions, startDottedSignSimulator } from '../../src/sandbox/dottedsign/dottedsign.simulator';

interface WebhookJson {
  resource_id: number;
  resource_type: string;
  action_name: string;
  event_datetime: string;
  event_email: string;
  ip_address: string;
  user_agent: string;
  task: { task_id: number; status: string; file_name: string; metadata: Record<string, string> };
}
interface Received {
  body: string;
  signature: string | undefined;
  json: WebhookJson;
}
interface ApiAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

const CLIENT = { clientId: 'ds-client', clientSecret: 'ds-secret' };
const OWNER = 'owner@sandbox.test';
const REDIRECT = 'http://app.test/auth/dottedsign/callback';

describe('DottedSign simulator, pinned to shared/reference/dottedsign.md', () => {
  let sim: DottedSignSimulator;
  let receiver: Server;
  let received: Received[] = [];
  /** The receiver answers this status; a function decides per webhook. */
  let answer: (hook: Received) => number = () => 200;
  let token: string;

  const http = async (url: string, init: { method?: string; body?: unknown; bearer?: string | null } = {}): Promise<ApiAnswer> => {
    const response = await fetch(url, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.bearer ? { authorization: `Bearer ${init.bearer}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      redirect: 'manual',
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : null };
  };
  const api = (method: string, path: string, body?: unknown, bearer: string | null = token) => http(`${sim.url}${path}`, { method, body, bearer });
  const control = (path: string, body: unknown = {}, method = 'POST') => http(`${sim.url}/_sim${path}`, { method, body });
  const controlGet = (path: string) => http(`${sim.url}/_sim${path}`);
  const grant = (body: Record<string, string>, target = sim) =>
    http(`${target.url}/v1/oauth/token`, { body: { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, ...body } });
  const ALL_SCOPES = SCOPES.join(' ');
  const ownerToken = async (target = sim, scope = ALL_SCOPES) => (await grant({ grant_type: 'client_credentials', scope }, target)).json.access_token as string;
  const quickCreate = (overrides: Record<string, unknown> = {}, bearer: string = token) =>
    api(
      'POST',
      '/v1/sign_tasks/quick_create',
      {
        file_name: 'Contract - Acme deal',
        template_id: 1,
        stages: [{ email: 'jane@acme.com', name: 'Jane Doe' }],
        start: true,
        metadata: { pipedrive_deal_id: '999', pipedrive_company_id: '8087566' },
        ...overrides,
      },
      bearer,
    );
  const createTask = async (overrides: Record<string, unknown> = {}) => {
    const created = await quickCreate(overrides);
    expect(created.status).toBe(200);
    return created.json.data.task_id as number;
  };
  const read = (taskId: number, bearer: string = token) => api('GET', `/v1/sign_tasks/read?task_id=${taskId}`, undefined, bearer);
  const hooksFor = (taskId: number) => received.filter((hook) => hook.json.task.task_id === taskId);
  /** Actions of a task's webhooks in the order the simulator emitted them (deliveries may arrive in another order). */
  const sentOrder = (taskId: number) =>
    sim.webhooks
      .attempts()
      .filter((attempt) => attempt.meta?.taskId === taskId && attempt.attempt === 1)
      .sort((a, b) => Number(a.meta!.seq) - Number(b.meta!.seq))
      .map((attempt) => attempt.meta!.action);
  const waitFor = async (predicate: () => boolean, what: string) => {
    for (let i = 0; i < 300 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    if (!predicate()) throw new Error(`timed out waiting for ${what}`);
  };
  /** A code from the authorization endpoint, approved at once for `account`. */
  const authorizationCode = async (account: string, redirectUri = REDIRECT, scope = ALL_SCOPES) => {
    const query = new URLSearchParams({ client_id: CLIENT.clientId, response_type: 'code', redirect_uri: redirectUri, scope, state: 'st-1', _sim_account: account });
    const response = await fetch(`${sim.url}/v1/oauth/authorize?${query}`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st-1');
    return location.searchParams.get('code')!;
  };
  const withSimulator = async (options: Partial<DottedSignSimulatorOptions>, use: (other: DottedSignSimulator) => Promise<void>) => {
    const other = await startDottedSignSimulator({ ...CLIENT, ...options });
    try {
      await use(other);
    } finally {
      await other.close();
    }
  };

  beforeAll(async () => {
    receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const hook = { body, signature: req.headers.signature as string | undefined, json: JSON.parse(body) as WebhookJson };
        received.push(hook);
        res.writeHead(answer(hook)).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
    const port = (receiver.address() as { port: number }).port;
    sim = await startDottedSignSimulator({ ...CLIENT, webhookUrl: `http://127.0.0.1:${port}/webhooks/dottedsign`, timeScale: 0.001 });
  });
  beforeEach(async () => {
    await sim.webhooks.idle();
    expect((await control('/reset')).status).toBe(200);
    received = [];
    answer = () => 200;
    token = await ownerToken();
  });
  afterAll(async () => {
    await sim.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  describe('OAuth token grants', () => {
    it('client_credentials acts as the owner account and answers the documented token shape', async () => {
      const tokens = await grant({ grant_type: 'client_credentials', scope: ALL_SCOPES });
      expect(tokens.status).toBe(200);
      expect(tokens.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, created_at: expect.any(Number) });
      const templates = await api('GET', '/v1/templates/list', undefined, tokens.json.access_token);
      expect(templates.json.data.templates.map((template: { name: string }) => template.name)).toEqual(['Sales contract', 'Mutual NDA']);
    });

    it('answers invalid_client 400005 for a wrong client id or secret, and invalid_params for an unknown grant', async () => {
      for (const wrong of [{ client_id: 'nope' }, { client_secret: 'nope' }]) {
        const response = await http(`${sim.url}/v1/oauth/token`, { body: { ...{ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }, ...wrong, grant_type: 'client_credentials' } });
        expect(response.status).toBe(400);
        expect(response.json).toEqual({ error_code: 400005, error_key: 'invalid_client', error_message: expect.any(String) });
      }
      const unknown = await grant({ grant_type: 'password' });
      expect(unknown.status).toBe(400);
      expect(unknown.json.error_code).toBe(400417);
    });

    it('authorization_code: single-use code bound to redirect_uri, acting as the approving account; refresh tokens rotate', async () => {
      const mismatched = await authorizationCode('customer@acme.test');
      expect((await grant({ grant_type: 'authorization_code', code: mismatched, redirect_uri: 'http://evil.test/cb' })).status).toBe(400);
      expect((await grant({ grant_type: 'authorization_code', code: mismatched, redirect_uri: REDIRECT })).status).toBe(400); // consumed by the failed try

      const code = await authorizationCode('customer@acme.test');
      const tokens = await grant({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
      expect(tokens.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, refresh_token: expect.any(String), created_at: expect.any(Number) });
      expect((await grant({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).status).toBe(400);
      // The customer's own account: none of the owner's templates.
      expect((await api('GET', '/v1/templates/list', undefined, tokens.json.access_token)).json.data.templates).toEqual([]);

      const refreshed = await grant({ grant_type: 'refresh_token', refresh_token: tokens.json.refresh_token });
      expect(refreshed.status).toBe(200);
      expect(refreshed.json.refresh_token).not.toBe(tokens.json.refresh_token);
      const reused = await grant({ grant_type: 'refresh_token', refresh_token: tokens.json.refresh_token });
      expect(reused.status).toBe(400);
      expect(reused.json.error_key).toBe('invalid_grant');
      expect((await grant({ grant_type: 'refresh_token', refresh_token: refreshed.json.refresh_token })).status).toBe(200);
    });

    it('a token carries the known scopes it was asked for, through codes and refreshes; a route needing another answers 403 insufficient_scope', async () => {
      const insufficient = { error_code: 403010, error_key: 'insufficient_scope', error_message: expect.any(String) };
      const id = await createTask();
      const readOnly = await ownerToken(sim, 'sign_tasks.general.read calendar.general.read');
      expect((await read(id, readOnly)).status).toBe(200);
      expect((await api('GET', '/v1/templates/list', undefined, readOnly)).status).toBe(200);
      const refused = await api('POST', '/v1/sign_tasks/void', { task_id: id }, readOnly);
      expect(refused.status).toBe(403);
      expect(refused.json).toEqual(insufficient);
      expect((await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=original`, undefined, readOnly)).status).toBe(403);
      expect((await quickCreate({}, readOnly)).status).toBe(403);

      const none = (await grant({ grant_type: 'client_credentials' })).json.access_token as string;
      expect((await read(id, none)).json).toEqual(insufficient);

      const code = await authorizationCode(OWNER, REDIRECT, 'sign_tasks.general.read,sign_tasks.download.read');
      const tokens = (await grant({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).json;
      const refreshed = (await grant({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).json.access_token as string;
      for (const bearer of [tokens.access_token as string, refreshed]) {
        expect((await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=original`, undefined, bearer)).status).toBe(200);
        expect((await api('POST', '/v1/sign_tasks/discard', { task_id: id }, bearer)).json).toEqual(insufficient);
      }
    });

    it('an authorization code expires after five minutes of simulator time', async () => {
      const code = await authorizationCode(OWNER);
      await control('/clock/advance', { seconds: 301 });
      expect((await grant({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).status).toBe(400);
    });

    it('shows an approval page where the user enters an account, and redirects with code or access_denied', async () => {
      const query = new URLSearchParams({ client_id: CLIENT.clientId, response_type: 'code', redirect_uri: REDIRECT, state: 'st-2' });
      const page = await fetch(`${sim.url}/v1/oauth/authorize?${query}`);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('name="account"');
      const decide = (decision: string) =>
        fetch(`${sim.url}/v1/oauth/authorize`, { method: 'POST', body: new URLSearchParams({ redirect_uri: REDIRECT, state: 'st-2', account: 'new@customer.test', decision }), redirect: 'manual' });
      const allowed = new URL((await decide('allow')).headers.get('location')!);
      expect(allowed.searchParams.get('state')).toBe('st-2');
      const tokens = await grant({ grant_type: 'authorization_code', code: allowed.searchParams.get('code')!, redirect_uri: REDIRECT });
      expect(tokens.status).toBe(200);
      expect(sim.state.accounts.has('new@customer.test')).toBe(true);
      const denied = new URL((await decide('deny')).headers.get('location')!);
      expect(denied.searchParams.get('error')).toBe('access_denied');
      expect(denied.searchParams.get('code')).toBeNull();
    });
  });

  describe('bearer tokens', () => {
    it('answers 401 with the error body shape once a token has expired, and for an unknown token', async () => {
      expect((await api('GET', '/v1/templates/list')).status).toBe(200);
      await control('/clock/advance', { seconds: 3601 });
      const expired = await api('GET', '/v1/templates/list');
      expect(expired.status).toBe(401);
      expect(expired.json).toEqual({ error_code: 401002, error_key: 'invalid_token', error_message: expect.any(String) });
      const unknown = await api('GET', '/v1/templates/list', undefined, 'not-a-token');
      expect(unknown.status).toBe(401);
      expect(unknown.json.error_code).toBe(401002);
    });

    it('expires every token on request; a missing Authorization header is the documented 400002', async () => {
      await control('/tokens/expire');
      expect((await api('GET', '/v1/templates/list')).status).toBe(401);
      const missing = await api('GET', '/v1/templates/list', undefined, null);
      expect(missing.status).toBe(400);
      expect(missing.json).toMatchObject({ error_code: 400002, error_key: 'invalid_token' });
    });
  });

  describe('quick create', () => {
    it('rejects file names outside DottedSign pattern or longer than 255 characters', async () => {
      for (const fileName of ['.hidden', 'a"b', 'a*b', 'a:b', 'a<b', 'a>b', 'a?b', 'a/b', 'a\\b', 'a|b', 'a~b', 'a#b', 'a%b', 'a&b', 'a{b', 'a}b', 'x'.repeat(256), '']) {
        const response = await quickCreate({ file_name: fileName });
        expect({ fileName, status: response.status, body: response.json }).toEqual({
          fileName,
          status: 400,
          body: { error_code: 400417, error_key: 'invalid_params', error_message: expect.any(String) },
        });
      }
      expect((await quickCreate({ file_name: `Contract – ${'x'.repeat(243)}` })).status).toBe(200); // 255 characters
    });

    it('enforces the metadata limits: 10 pairs, keys up to 40 and values up to 100 characters', async () => {
      const pairs = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, 'v']));
      expect((await quickCreate({ metadata: pairs(10) })).status).toBe(200);
      expect((await quickCreate({ metadata: pairs(11) })).json.error_code).toBe(400417);
      expect((await quickCreate({ metadata: { ['k'.repeat(40)]: 'v'.repeat(100) } })).status).toBe(200);
      expect((await quickCreate({ metadata: { ['k'.repeat(41)]: 'v' } })).json.error_code).toBe(400417);
      expect((await quickCreate({ metadata: { k: 'v'.repeat(101) } })).json.error_code).toBe(400417);
      expect((await quickCreate({ metadata: { k: { nested: true } } })).json.error_code).toBe(400417);
    });

    it('needs non-empty stages with a name and a valid email, and valid JSON', async () => {
      for (const stages of [[], [{ email: 'not-an-email', name: 'A' }], [{ email: 'a@x.test' }], undefined]) {
        expect((await quickCreate({ stages })).json.error_key).toBe('invalid_params');
      }
      const broken = await api('POST', '/v1/sign_tasks/quick_create', '{"file_name":');
      expect(broken.status).toBe(400);
      expect(broken.json.error_key).toBe('invalid_params');
    });

    it('answers template_not_accessible 403044 for another account template or an unknown one', async () => {
      const foreign = (await control('/templates', { account: 'someone@else.test', name: 'Not yours', roles: ['Signer'] })).json.id as number;
      for (const templateId of [foreign, 999]) {
        const response = await quickCreate({ template_id: templateId });
        expect(response.status).toBe(403);
        expect(response.json).toEqual({ error_code: 403044, error_key: 'template_not_accessible', error_message: expect.any(String) });
      }
    });

    it('answers over_monthly_task_usage 403032 when the account quota is spent', async () => {
      await control(`/accounts/${OWNER}`, { quota: 1 }, 'PATCH');
      expect((await quickCreate()).status).toBe(200);
      const over = await quickCreate();
      expect(over.status).toBe(403);
      expect(over.json).toEqual({ error_code: 403032, error_key: 'over_monthly_task_usage', error_message: expect.any(String) });
      expect(sim.state.accounts.get(OWNER)!.quotaRemaining).toBe(0);
    });

    it('returns data.task_id; start:true makes it waiting, no start leaves a draft; the read shape', async () => {
      const created = await quickCreate();
      expect(created.json).toEqual({ data: { task_id: expect.any(Number) } });
      const task = (await read(created.json.data.task_id)).json.data;
      expect(task).toEqual({
        task_id: created.json.data.task_id,
        status: 'waiting',
        file_name: 'Contract - Acme deal',
        template_id: 1,
        metadata: { pipedrive_deal_id: '999', pipedrive_company_id: '8087566' },
        ordered: false,
        created_at: expect.any(String),
        updated_at: expect.any(String),
        completed_at: null,
        void_reason: null,
        stages: [{ order: 1, signers: [{ name: 'Jane Doe', email: 'jane@acme.com', status: 'waiting', signed_at: null, decline_reason: null }] }],
      });
      const draft = await createTask({ start: undefined });
      expect((await read(draft)).json.data.status).toBe('draft');
    });

    it('POST /v1/sign_tasks needs stages[].field_settings', async () => {
      const body = { file_name: 'Full create', template_id: 1, stages: [{ email: 'jane@acme.com', name: 'Jane' }] };
      expect((await api('POST', '/v1/sign_tasks', body)).json.error_key).toBe('invalid_params');
      const created = await api('POST', '/v1/sign_tasks', { ...body, stages: [{ ...body.stages[0], field_settings: [] }] });
      expect(created.json.data.task_id).toEqual(expect.any(Number));
    });
  });

  describe('tasks', () => {
    it('shows a task only to its account: task_not_accessible 403036 for others and for unknown ids', async () => {
      const id = await createTask();
      const code = await authorizationCode('other@customer.test');
      const other = (await grant({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).json.access_token as string;
      for (const attempt of [await read(id, other), await read(424242)]) {
        expect(attempt.status).toBe(403);
        expect(attempt.json).toEqual({ error_code: 403036, error_key: 'task_not_accessible', error_message: expect.any(String) });
      }
      expect((await api('POST', '/v1/sign_tasks/void', { task_id: id }, other)).json.error_code).toBe(403036);
    });

    it('voids only a waiting task (invalid_action 403002 otherwise) and keeps the reason', async () => {
      const draft = await createTask({ start: false });
      const notWaiting = await api('POST', '/v1/sign_tasks/void', { task_id: draft, reason: 'x' });
      expect(notWaiting.status).toBe(403);
      expect(notWaiting.json).toEqual({ error_code: 403002, error_key: 'invalid_action', error_message: expect.any(String) });
      const waiting = await createTask();
      expect((await api('POST', '/v1/sign_tasks/void', { task_id: waiting, reason: 'Deal deleted' })).json).toEqual({ data: { task_id: waiting, status: 'voided' } });
      expect((await read(waiting)).json.data).toMatchObject({ status: 'voided', void_reason: 'Deal deleted' });
      expect((await api('POST', '/v1/sign_tasks/void', { task_id: waiting })).json.error_code).toBe(403002);
    });

    it('discards drafts and final tasks but not waiting ones; a discarded task answers task_deleted 400033', async () => {
      const waiting = await createTask();
      expect((await api('POST', '/v1/sign_tasks/discard', { task_id: waiting })).json.error_code).toBe(403002);
      await control(`/tasks/${waiting}/sign`, { email: 'jane@acme.com' });
      const draft = await createTask({ start: false });
      for (const id of [waiting, draft]) {
        expect((await api('POST', '/v1/sign_tasks/discard', { task_id: id })).json).toEqual({ data: { task_id: id } });
        const gone = await read(id);
        expect(gone.status).toBe(400);
        expect(gone.json).toEqual({ error_code: 400033, error_key: 'task_deleted', error_message: expect.any(String) });
        expect((await api('POST', '/v1/sign_tasks/discard', { task_id: id })).json.error_code).toBe(400033);
      }
      expect((await api('GET', '/v1/sign_tasks/list')).json.data.tasks).toEqual([]);
    });

    it('lets signers of an ordered task sign only in turn, and each only once', async () => {
      const id = await createTask({ ordered: true, stages: [{ email: 'first@x.test', name: 'First' }, { email: 'second@x.test', name: 'Second' }] });
      expect((await control(`/tasks/${id}/sign`, { email: 'second@x.test' })).json.error_code).toBe(403002);
      expect((await control(`/tasks/${id}/sign`, { email: 'first@x.test' })).status).toBe(200);
      expect((await control(`/tasks/${id}/sign`, { email: 'first@x.test' })).json.error_code).toBe(403002);
      expect((await control(`/tasks/${id}/sign`, { email: 'second@x.test' })).json.status).toBe('completed');
    });

    it('lists by metadata and status with pagination, newest first by default', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push(await createTask({ metadata: { pipedrive_deal_id: 'deal-7' } }));
      await createTask({ metadata: { pipedrive_deal_id: 'deal-8' } });
      await createTask({ metadata: { other: '1' } });
      await api('POST', '/v1/sign_tasks/void', { task_id: ids[0] });

      const page1 = await api('GET', '/v1/sign_tasks/list?metadata_key=pipedrive_deal_id&metadata_value=deal-7&per_page=2&page=1&order_by=desc&sort_type=updated_at');
      expect(page1.json.data).toMatchObject({ page: 1, per_page: 2, total: 3, total_pages: 2 });
      expect(page1.json.data.tasks.map((task: { task_id: number }) => task.task_id)).toEqual([ids[0], ids[2]]); // the void updated ids[0]
      const page2 = await api('GET', '/v1/sign_tasks/list?metadata_key=pipedrive_deal_id&metadata_value=deal-7&per_page=2&page=2');
      expect(page2.json.data.tasks.map((task: { task_id: number }) => task.task_id)).toEqual([ids[1]]);
      expect((await api('GET', '/v1/sign_tasks/list?metadata_key=pipedrive_deal_id')).json.data.total).toBe(4);
      const voided = await api('GET', '/v1/sign_tasks/list?status=voided');
      expect(voided.json.data.tasks.map((task: { task_id: number; metadata: object }) => [task.task_id, task.metadata])).toEqual([[ids[0], { pipedrive_deal_id: 'deal-7' }]]);
      const ascending = await api('GET', '/v1/sign_tasks/list?order_by=asc&sort_type=created_at');
      expect(ascending.json.data.tasks[0].task_id).toBe(ids[0]);
      expect((await api('GET', '/v1/sign_tasks/list?status=bogus')).json.error_code).toBe(400417);
    });

    it('lists templates with roles, and a task audit trail as JSON events', async () => {
      const templates = await api('GET', '/v1/templates/list?page=1&per_page=1');
      expect(templates.json.data).toEqual({ templates: [{ id: 1, name: 'Sales contract', roles: [{ order: 1, name: 'Customer' }] }], page: 1, per_page: 1, total: 2, total_pages: 2 });
      const id = await createTask();
      await control(`/tasks/${id}/sign`, { email: 'jane@acme.com' });
      const trail = await api('GET', `/v1/sign_tasks/audit_trails?task_id=${id}&page=1&per_page=10`);
      expect(trail.json.data.audit_trails.map((event: { action: string }) => event.action)).toEqual(['created', 'sent', 'signed', 'completed']);
      expect(trail.json.data.audit_trails[2]).toEqual({ action: 'signed', email: 'jane@acme.com', ip_address: expect.any(String), created_at: expect.any(String) });
    });
  });

  describe('download links', () => {
    it('serve the signed PDF and the audit trail of a completed task until the link expires', async () => {
      const id = await createTask();
      expect((await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=completed`)).json.error_code).toBe(403002);
      await control(`/tasks/${id}/sign`, { email: 'jane@acme.com' });
      const links = await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=completed,audit_trail`);
      expect(links.json).toEqual({ data: { completed: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/files\//), audit_trail: expect.any(String) } });
      for (const [kind, text] of [['completed', 'Signed copy - Contract - Acme deal'], ['audit_trail', 'Audit trail - Contract - Acme deal']]) {
        const file = await fetch(links.json.data[kind]);
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toBe('application/pdf');
        const pdf = Buffer.from(await file.arrayBuffer()).toString('latin1');
        expect(pdf.startsWith('%PDF-1.4\n')).toBe(true);
        expect(pdf.trimEnd().endsWith('%%EOF')).toBe(true);
        expect(pdf).toContain(`(${text})`);
        const xref = Number(/startxref\n(\d+)/.exec(pdf)![1]);
        expect(pdf.slice(xref, xref + 4)).toBe('xref');
      }
      const forged = links.json.data.completed.replace(/signature=(\w)/, (_: string, first: string) => `signature=${first === '0' ? '1' : '0'}`);
      expect((await fetch(forged)).status).toBe(403);
      await control('/clock/advance', { seconds: 301 });
      expect((await fetch(links.json.data.completed)).status).toBe(410);
    });

    it('offer an audit trail for declined and voided tasks but no signed copy; unknown file types are invalid_params', async () => {
      const declined = await createTask();
      await control(`/tasks/${declined}/decline`, { email: 'jane@acme.com', reason: 'No' });
      const voided = await createTask();
      await api('POST', '/v1/sign_tasks/void', { task_id: voided });
      for (const id of [declined, voided]) {
        expect((await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=audit_trail`)).status).toBe(200);
        expect((await api('GET', `/v1/sign_tasks/download_link?task_id=${id}&file_types=completed`)).json.error_code).toBe(403002);
      }
      expect((await api('GET', `/v1/sign_tasks/download_link?task_id=${declined}&file_types=contract`)).json.error_code).toBe(400417);
    });
  });

  describe('webhooks', () => {
    const verify = (hook: Received) => expect(hook.signature).toBe(createHmac('sha256', CLIENT.clientSecret).update(hook.body).digest('hex'));

    it('are signed with hex HMAC-SHA256 of the raw body and the client secret; signed for each signer, then completed', async () => {
      const id = await createTask({ stages: [{ email: 'a@x.test', name: 'A' }, { email: 'b@x.test', name: 'B' }] });
      await control(`/tasks/${id}/view`, { email: 'a@x.test' });
      await control(`/tasks/${id}/sign`, { email: 'a@x.test' });
      await control(`/tasks/${id}/sign`, { email: 'b@x.test' });
      await waitFor(() => hooksFor(id).length === 6, 'six webhooks');
      expect(sentOrder(id)).toEqual(['created', 'sent', 'viewed', 'signed', 'signed', 'completed']);
      for (const hook of hooksFor(id)) {
        verify(hook);
        expect(hook.json).toEqual({
          resource_id: id,
          resource_type: 'SignTask',
          action_name: expect.any(String),
          event_datetime: expect.stringMatching(/^\d{10}$/),
          event_email: expect.any(String),
          ip_address: expect.any(String),
          user_agent: expect.any(String),
          task: { task_id: id, status: expect.any(String), file_name: 'Contract - Acme deal', metadata: { pipedrive_deal_id: '999', pipedrive_company_id: '8087566' } },
        });
        expect(Math.abs(Number(hook.json.event_datetime) - Date.now() / 1000)).toBeLessThan(60);
      }
      const byAction = (action: string) => hooksFor(id).filter((hook) => hook.json.action_name === action);
      expect(byAction('signed').map((hook) => hook.json.event_email).sort()).toEqual(['a@x.test', 'b@x.test']);
      expect(byAction('completed')[0].json).toMatchObject({ event_email: 'b@x.test', task: { status: 'completed' } });
      expect(byAction('created')[0].json.event_email).toBe(OWNER);
      expect(createHmac('sha256', 'wrong-secret').update(byAction('completed')[0].body).digest('hex')).not.toBe(byAction('completed')[0].signature);
    });

    it('can be signed in base64 and name the resource "task" (the reference accepts both readings); reset restores hex and SignTask', async () => {
      expect((await control('/webhook-format', { signature: 'base64', resourceType: 'task' }, 'PUT')).json).toEqual({ signature: 'base64', resourceType: 'task' });
      expect((await control('/webhook-format', { signature: 'utf8' }, 'PUT')).status).toBe(400);
      const id = await createTask({ start: false });
      await waitFor(() => hooksFor(id).length === 1, 'created');
      const [created] = hooksFor(id);
      expect(created.signature).toBe(createHmac('sha256', CLIENT.clientSecret).update(created.body).digest('base64'));
      expect(created.json.resource_type).toBe('task');
      await control('/reset');
      expect((await controlGet('/webhook-format')).json).toEqual({ signature: 'hex', resourceType: 'SignTask' });
    });

    it('send an event that changes nothing the simulator models (archived, an unknown one) on request, never one that follows from the state', async () => {
      const id = await createTask();
      expect((await control(`/tasks/${id}/events`, { action_name: 'archived' })).status).toBe(200);
      expect((await control(`/tasks/${id}/events`, { action_name: 'teleported', email: 'jane@acme.com' })).status).toBe(200);
      expect((await control(`/tasks/${id}/events`, { action_name: 'completed' })).status).toBe(400);
      expect((await control(`/tasks/${id}/events`, { action_name: 'Bad Name' })).status).toBe(400);
      await waitFor(() => hooksFor(id).length === 4, 'four webhooks');
      expect(sentOrder(id)).toEqual(['created', 'sent', 'archived', 'teleported']);
      expect(hooksFor(id).find((hook) => hook.json.action_name === 'teleported')!.json).toMatchObject({ event_email: 'jane@acme.com', task: { status: 'waiting' } });
      expect((await read(id)).json.data.status).toBe('waiting');
      received.forEach(verify);
    });

    it('report a decline with the signer, and the reason on the task; voided and expired too', async () => {
      const declined = await createTask();
      await control(`/tasks/${declined}/decline`, { email: 'jane@acme.com', reason: 'Price too high' });
      const voided = await createTask();
      await api('POST', '/v1/sign_tasks/void', { task_id: voided, reason: 'Deal lost' });
      const expired = await createTask();
      await control(`/tasks/${expired}/expire`);
      await waitFor(() => received.length === 9, 'nine webhooks');
      expect(hooksFor(declined).find((hook) => hook.json.action_name === 'declined')!.json).toMatchObject({ event_email: 'jane@acme.com', task: { status: 'declined' } });
      expect((await read(declined)).json.data.stages[0].signers[0]).toMatchObject({ status: 'declined', decline_reason: 'Price too high' });
      expect(hooksFor(voided).find((hook) => hook.json.action_name === 'voided')!.json.task.status).toBe('voided');
      expect(hooksFor(expired).find((hook) => hook.json.action_name === 'expired')!.json.task.status).toBe('expired');
      received.forEach(verify);
    });

    it('are retried (10 s, 60 s, 300 s scaled by timeScale) after a 5xx until the receiver accepts', async () => {
      let failures = 2;
      answer = (hook) => (hook.json.action_name === 'created' && failures-- > 0 ? 500 : 200);
      const id = await createTask({ start: false });
      await sim.webhooks.idle();
      expect(sim.webhooks.attempts().map((attempt) => [attempt.attempt, attempt.status, attempt.outcome])).toEqual([
        [1, 500, 'failed'],
        [2, 500, 'failed'],
        [3, 200, 'delivered'],
      ]);
      expect(hooksFor(id).map((hook) => hook.body)).toEqual([hooksFor(id)[0].body, hooksFor(id)[0].body, hooksFor(id)[0].body]);
      const deliveries = (await controlGet('/webhooks/deliveries')).json as Array<{ status: number }>;
      expect(deliveries.map((attempt) => attempt.status)).toEqual([500, 500, 200]);
    });

    it('can be dropped or duplicated on request', async () => {
      await control('/webhooks/drop', { count: 1 });
      const dropped = await createTask({ start: false });
      await control('/webhooks/duplicate', { count: 1 });
      const duplicated = await createTask({ start: false });
      await sim.webhooks.idle();
      expect(hooksFor(dropped)).toEqual([]);
      expect(sim.webhooks.attempts().find((attempt) => attempt.meta?.taskId === dropped)!.outcome).toBe('dropped');
      expect(hooksFor(duplicated)).toHaveLength(2);
      expect(hooksFor(duplicated)[0].body).toBe(hooksFor(duplicated)[1].body);
      expect((await control('/webhooks/drop', { count: 'many' })).status).toBe(400);
    });

    it('can be held and released in reverse order', async () => {
      await control('/webhooks/hold');
      const id = await createTask();
      await control(`/tasks/${id}/sign`, { email: 'jane@acme.com' });
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(hooksFor(id)).toEqual([]);
      expect(sim.webhooks.pending()).toBe(4);
      expect((await control('/webhooks/release', { order: 'reverse' })).json).toEqual({ released: 4 });
      await sim.webhooks.idle();
      expect(hooksFor(id).map((hook) => hook.json.action_name)).toEqual(['completed', 'signed', 'sent', 'created']);
    });

    it('go to the URL set through the control API, and nowhere without one', async () => {
      await control('/webhook-url', { url: null }, 'PUT');
      await createTask({ start: false });
      await sim.webhooks.idle();
      expect(sim.webhooks.attempts()).toEqual([]);
      const receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/elsewhere`;
      expect((await control('/webhook-url', { url: receiverUrl }, 'PUT')).json).toEqual({ url: receiverUrl });
      await createTask({ start: false });
      await sim.webhooks.idle();
      expect(sim.webhooks.attempts().map((attempt) => attempt.url)).toEqual([receiverUrl]);
    });
  });

  describe('signing page', () => {
    it('lets a signer view, then sign by clicking; viewing counts once', async () => {
      const id = await createTask();
      const pageUrl = `${sim.url}/sign/${id}?email=jane%40acme.com`;
      const page = await (await fetch(pageUrl)).text();
      expect(page).toContain('data-testid="sign"');
      await fetch(pageUrl);
      const signed = await fetch(`${sim.url}/sign/${id}`, { method: 'POST', body: new URLSearchParams({ email: 'jane@acme.com', action: 'sign' }), redirect: 'manual' });
      expect(signed.status).toBe(303);
      expect(await (await fetch(pageUrl)).text()).toContain('Nothing left for you to do');
      expect(sim.state.tasks.get(id)!.status).toBe('completed');
      await waitFor(() => hooksFor(id).length === 5, 'five webhooks');
      expect(sentOrder(id)).toEqual(['created', 'sent', 'viewed', 'signed', 'completed']);
      expect((await fetch(`${sim.url}/sign/${id}?email=stranger%40x.test`)).status).toBe(404);
    });
  });

  describe('faults, rate limit and request log', () => {
    it('answers injected faults for the next N matching requests, then the real handler', async () => {
      await control('/faults', { method: 'POST', path: '/v1/sign_tasks/quick_create', status: 500, count: 2, body: { error_code: 500000, error_key: 'internal_error', error_message: 'boom' } });
      expect((await quickCreate()).json).toEqual({ error_code: 500000, error_key: 'internal_error', error_message: 'boom' });
      expect((await quickCreate()).status).toBe(500);
      expect((await quickCreate()).status).toBe(200);
      const logged = (await controlGet('/requests?method=POST&path=/v1/sign_tasks/quick_create')).json as Array<{ status: number; body: { file_name: string } }>;
      expect(logged.map((entry) => entry.status)).toEqual([500, 500, 200]);
      expect(logged[0].body.file_name).toBe('Contract - Acme deal');
    });

    it('adds latency to any route (prefix rules) without changing the answer', async () => {
      await control('/faults', { rules: [{ path: '/v1/templates/*', latencyMs: 150 }] });
      const started = Date.now();
      expect((await api('GET', '/v1/templates/list')).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      await control('/faults', {}, 'DELETE');
    });

    it('answers 429 with Retry-After beyond the rate limit, until the window has passed', async () => {
      await withSimulator({ rateLimit: { requests: 2, windowMs: 60_000 } }, async (limited) => {
        const bearer = await ownerToken(limited);
        const call = () => http(`${limited.url}/v1/templates/list`, { bearer });
        expect((await call()).status).toBe(200);
        expect((await call()).status).toBe(200);
        const third = await call();
        expect(third.status).toBe(429);
        expect(third.json).toEqual({ error_code: 429001, error_key: 'rate_limit_exceeded', error_message: expect.any(String) });
        expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
        await http(`${limited.url}/_sim/clock/advance`, { body: { seconds: 60 } });
        expect((await call()).status).toBe(200);
      });
    });

    it('records API requests (not /_sim) and reset brings back the seeded state', async () => {
      await createTask();
      const log = (await controlGet('/requests')).json as Array<{ path: string; method: string; headers: Record<string, string> }>;
      expect(log.map((entry) => `${entry.method} ${entry.path}`)).toEqual(['POST /v1/oauth/token', 'POST /v1/sign_tasks/quick_create']);
      expect(log[1].headers.authorization).toBe(`Bearer ${token}`);
      await control('/reset');
      expect((await controlGet('/requests')).json).toEqual([]);
      expect(sim.state.tasks.size).toBe(0);
      expect([...sim.state.templates.values()].map((template) => template.name)).toEqual(['Sales contract', 'Mutual NDA']);
      expect((await api('GET', '/v1/templates/list')).status).toBe(401);
    });
  });
});
