import { Logger } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { startTestApp } from '../support/test-app';

describe('the company’s DottedSign connection: who may change it, and what the app does without it', () => {
  let s: Sandbox;
  let scenario: Scenario;
  const connectionOf = async (companyId: number) =>
    ((await scenario.db().query('SELECT mode, account_email, connected_by_user_id, updated_at FROM esign_connections WHERE company_id = $1', [companyId])) as unknown[])[0] ?? null;
  const addUser = async (companyId: number, name: string, isAdmin: boolean) =>
    ((await (await s.sim(`/companies/${companyId}/users`, { body: { name, isAdmin } })).json()) as { id: number }).id;

  /** An admin's connect link followed: DottedSign's approval page (as `account` would approve it) and the browser's cookie. */
  const startConnect = async (companyId: number, userId: number, account: string) => {
    const start = await fetch(`${s.app.url}/auth/dottedsign?token=${s.panelToken(companyId, userId)}`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('_sim_account', account);
    return { authorize, cookie: start.headers.get('set-cookie')!.split(';')[0] };
  };

  beforeAll(async () => {
    s = await startSandbox();
    scenario = new Scenario(s);
    await scenario.installAndConnect({ autoSend: { enabled: false } });
  });
  afterAll(() => s?.close());

  it('with DOTTEDSIGN_APP_ACCOUNT=false an admin cannot connect the app’s own DottedSign account, and settings do not offer it', async () => {
    const company = ((await (await s.sim('/companies', { body: { name: 'Beta Corp' } })).json()) as { id: number }).id;
    const admin = await addUser(company, 'Bea Admin', true);
    await s.install(admin);
    const multiTenant = await startTestApp({ database: s.app.database, env: { ...s.appEnv, DOTTEDSIGN_APP_ACCOUNT: 'false' } });
    try {
      const asBea = (path: string, method = 'GET') =>
        fetch(`${multiTenant.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${s.panelToken(company, admin)}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
          body: method === 'POST' ? '{}' : undefined,
        });
      const refused = await asBea('/api/dottedsign/connect-app-account', 'POST');
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({ error: { code: 'forbidden', message: expect.stringContaining('Connect your company’s own DottedSign account') } });
      expect(await connectionOf(company)).toBeNull();
      expect(((await (await asBea('/api/settings')).json()) as { dottedsign: unknown }).dottedsign).toMatchObject({ connected: false, appAccountAvailable: false });
    } finally {
      await multiTenant.close();
    }
    expect(((await (await s.api(company, admin, '/api/settings')).json()) as { dottedsign: unknown }).dottedsign).toMatchObject({ appAccountAvailable: true });
  });

  it('a user who is not an admin gets a 403 page from the DottedSign connect link, and the connection stays', async () => {
    const { companyId, regularUserId } = scenario.demo;
    await s.install(regularUserId);
    const before = await connectionOf(companyId);
    expect(before).toMatchObject({ mode: 'client_credentials' });

    const start = await fetch(`${s.app.url}/auth/dottedsign?token=${s.panelToken(companyId, regularUserId)}`, { redirect: 'manual' });
    expect(start.status).toBe(403);
    expect(start.headers.get('content-type')).toContain('text/html');
    expect(await start.text()).toContain('Only a Pipedrive admin can change the DottedSign connection');
    expect(await connectionOf(companyId)).toEqual(before);
  });

  it('an admin uninstalled while on DottedSign’s approval page connects nothing when DottedSign sends them back', async () => {
    const { companyId } = scenario.demo;
    const before = await connectionOf(companyId);
    const admin = await addUser(companyId, 'Otto Admin', true);
    await s.install(admin);
    const { authorize, cookie } = await startConnect(companyId, admin, 'otto@elsewhere.test');

    await s.sim('/uninstall', { body: { companyId, userId: admin } });
    const approved = await fetch(authorize, { redirect: 'manual' });
    const callback = await fetch(approved.headers.get('location')!, { redirect: 'manual', headers: { cookie } });
    expect(callback.status).toBe(403);
    expect(await callback.text()).toContain('no longer installed');
    expect(await connectionOf(companyId)).toEqual(before);
  });

  it('the company erased while DottedSign answers the connect: a page that says the app is no longer installed, and nothing stored', async () => {
    const company = ((await (await s.sim('/companies', { body: { name: 'Gamma Ltd' } })).json()) as { id: number }).id;
    const admin = await addUser(company, 'Gus Admin', true);
    await s.install(admin);
    const { authorize, cookie } = await startConnect(company, admin, 'gus@gamma.test');
    const approved = await fetch(authorize, { redirect: 'manual' });
    // DottedSign takes a while to give the tokens; the company's only user uninstalls meanwhile.
    await s.dsim('/faults', { body: { method: 'POST', path: '/v1/oauth/token', count: 1, latencyMs: 3000 } });
    const callback = fetch(approved.headers.get('location')!, { redirect: 'manual', headers: { cookie } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await s.sim('/uninstall', { body: { companyId: company, userId: admin } })).status).toBe(200);
    const page = await callback;
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('no longer installed');
    expect(await connectionOf(company)).toBeNull();
    expect(await scenario.db().query('SELECT id FROM companies WHERE id = $1', [company])).toEqual([]);
  });

  it('a connect link approved in another browser connects nothing: the account of whoever approved it never reaches the company', async () => {
    const { companyId, adminUserId } = scenario.demo;
    const before = await connectionOf(companyId);
    const start = await fetch(`${s.app.url}/auth/dottedsign?token=${s.panelToken(companyId, adminUserId)}`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    expect(start.headers.get('set-cookie')).toMatch(/^flow_[0-9a-f]{12}=[\w-]+; Path=\/auth\/dottedsign\/callback; Max-Age=900; HttpOnly; SameSite=Lax$/);
    // The admin sends the DottedSign link to someone else, who approves it with their own account.
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('_sim_account', 'stranger@elsewhere.test');
    const approved = await fetch(authorize, { redirect: 'manual' });
    const callbackUrl = approved.headers.get('location')!;
    const ownCookie = start.headers.get('set-cookie')!.split(';')[0];
    for (const cookie of [undefined, `${ownCookie.split('=')[0]}=another-secret`, `flow_0123456789ab=${ownCookie.split('=')[1]}`]) {
      const callback = await fetch(callbackUrl, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      expect(callback.status).toBe(400);
      expect(await callback.text()).toContain('started in another browser');
    }
    expect(await connectionOf(companyId)).toEqual(before);
  });

  it('DottedSign sending the admin back with an error: "cancelled" (200) for access_denied, the error named (400) for anything else; nothing connected', async () => {
    const before = await connectionOf(scenario.demo.companyId);
    const back = (query: string) => fetch(`${s.app.url}/auth/dottedsign/callback?${query}`, { redirect: 'manual' });
    const denied = await back('error=access_denied&state=whatever');
    expect(denied.status).toBe(200);
    expect(await denied.text()).toContain('You cancelled the connection');
    const refused = await back('error=unauthorized_client&error_description=nope&state=whatever');
    expect(refused.status).toBe(400);
    const page = await refused.text();
    expect(page).toContain('DottedSign refused the connection (unauthorized_client)');
    expect(page).not.toContain('cancelled');
    expect((await back(`error=${encodeURIComponent('<script>x</script>')}`)).status).toBe(400);
    expect(await connectionOf(scenario.demo.companyId)).toEqual(before);
  });

  it('lists every template, once, from a DottedSign that pages by 20 and gives no counts', async () => {
    const { companyId, adminUserId } = scenario.demo;
    const templates = async () => ((await (await s.api(companyId, adminUserId, '/api/templates')).json()) as { templates: Array<{ id: number }> }).templates;
    for (let index = 1; index <= 45; index += 1) await s.dsim('/templates', { body: { name: `Paged template ${index}` } });
    const all = await templates();
    expect(all.length).toBeGreaterThanOrEqual(45);
    await s.dsim('/list-format', { method: 'PUT', body: { maxPerPage: 20, counts: false } });
    try {
      await s.dsim('/requests', { method: 'DELETE' });
      const paged = await templates();
      expect(paged.map((template) => template.id).sort()).toEqual(all.map((template) => template.id).sort());
      const calls = ((await (await s.dsim('/requests')).json()) as Array<{ path: string }>).filter((call) => call.path === '/v1/templates/list');
      expect(calls).toHaveLength(Math.ceil(all.length / 20) + (all.length % 20 === 0 ? 1 : 0));
    } finally {
      await s.dsim('/list-format', { method: 'PUT', body: { maxPerPage: 100, counts: true } });
    }
  });

  it('voiding a sent contract after DottedSign was disconnected answers 409 dottedsign_not_connected and leaves it waiting', async () => {
    const { companyId, adminUserId, dealId } = scenario.demo;
    const sent = await s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
    expect(sent.status).toBe(201);
    const { contract } = (await sent.json()) as { contract: { id: number; status: string } };
    expect(contract.status).toBe('waiting');
    expect((await s.api(companyId, adminUserId, '/api/dottedsign/connection', { method: 'DELETE' })).status).toBe(200);

    const voided = await s.api(companyId, adminUserId, `/api/contracts/${contract.id}/void`, { body: {} });
    expect(voided.status).toBe(409);
    expect(await voided.json()).toEqual({ error: { code: 'dottedsign_not_connected', message: 'Connect DottedSign in the app settings first' } });
    const [row] = await scenario.db().query('SELECT status FROM contracts WHERE id = $1', [contract.id]);
    expect(row.status).toBe('waiting');
    const [task] = (await scenario.tasks()).filter((candidate) => String(candidate.metadata.pipedrive_contract_id) === String(contract.id));
    expect(task.status).toBe('waiting');
  });

  it('a signed DottedSign webhook the app cannot use is acknowledged, not stored, and logged as a warning with the reason', async () => {
    const deliveries: Array<{ body: string; contentType: string; reason: string }> = [
      { body: 'task_id=5&action_name=task_completed', contentType: 'application/x-www-form-urlencoded', reason: 'the body is not JSON' },
      { body: JSON.stringify({ resource_type: 'Template', resource_id: 7, action_name: 'created' }), contentType: 'application/json', reason: 'resource_type "Template" is not a sign task' },
      { body: JSON.stringify({ resource_type: 'SignTask', action_name: 'task_completed' }), contentType: 'application/json', reason: 'it names no task' },
      { body: JSON.stringify({ resource_type: 'SignTask', task: { task_id: 5 } }), contentType: 'application/json', reason: 'it has no action_name' },
    ];
    const before = await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events');
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      for (const { body, contentType, reason } of deliveries) {
        const signature = createHmac('sha256', s.credentials.dottedsignClientSecret).update(body).digest('hex');
        const answer = await fetch(`${s.app.url}/webhooks/dottedsign`, { method: 'POST', headers: { 'content-type': contentType, signature }, body });
        expect(answer.status).toBe(200);
        expect(await answer.json()).toEqual({ status: 'ignored' });
        expect(warn).toHaveBeenCalledWith(expect.stringContaining(reason));
        expect(JSON.stringify(warn.mock.calls)).not.toContain(signature);
      }
    } finally {
      warn.mockRestore();
    }
    expect(await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events')).toEqual(before);
  });
});
