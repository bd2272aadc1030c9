import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';

interface SettingsView {
  canEdit: boolean;
  dottedsign: { connected: boolean; status: string; account: string | null; mode: string | null };
}

describe('the settings API tells the page what it may offer: a DottedSign connection to reconnect, and who may edit', () => {
  let s: Sandbox;
  let scenario: Scenario;

  const settingsAs = async (userId: number): Promise<SettingsView> => {
    const answer = await s.api(scenario.demo.companyId, userId, '/api/settings');
    expect(answer.status).toBe(200);
    return (await answer.json()) as SettingsView;
  };
  const templatesStatus = async () => (await s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/templates')).status;

  /** The settings page's "Connect DottedSign" window, approved in the simulator as `account`. */
  async function connectThroughOAuth(account: string): Promise<void> {
    const { companyId, adminUserId } = scenario.demo;
    const start = await fetch(`${s.app.url}/auth/dottedsign?token=${s.panelToken(companyId, adminUserId)}`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.set('_sim_account', account);
    const approved = await fetch(authorize, { redirect: 'manual' });
    // The same browser: it sends back the cookie the start set.
    const cookie = start.headers.get('set-cookie')!.split(';')[0];
    const callback = await fetch(approved.headers.get('location')!, { redirect: 'manual', headers: { cookie } });
    expect(await callback.text()).toContain('is now connected');
    expect(callback.status).toBe(200);
  }

  /** The stored access token runs out, and DottedSign forgets it too: the next call has to refresh. */
  async function expireAccessToken(): Promise<void> {
    await scenario.db().query(`UPDATE esign_connections SET expires_at = now() - interval '1 hour' WHERE company_id = $1`, [scenario.demo.companyId]);
    expect((await s.dsim('/tokens/expire', { body: {} })).status).toBe(200);
  }

  const tokenEndpointFault = (status: number, key: string, count: number) =>
    s.dsim('/faults', { body: { method: 'POST', path: '/v1/oauth/token', status, count, body: { error_code: Number(`${status}006`), error_key: key, error_message: key } } });

  beforeAll(async () => {
    s = await startSandbox();
    scenario = new Scenario(s);
    await s.install(scenario.demo.adminUserId);
    await s.install(scenario.demo.regularUserId);
  });
  afterAll(() => s?.close());

  it('reports reconnect_required once DottedSign refuses the refresh token for good (not on a passing outage), and ok again after reconnecting', async () => {
    const { adminUserId } = scenario.demo;
    expect((await settingsAs(adminUserId)).dottedsign).toMatchObject({ connected: false, status: 'not_connected' });

    await connectThroughOAuth('ops@acme.test');
    expect((await settingsAs(adminUserId)).dottedsign).toMatchObject({ connected: true, status: 'ok', mode: 'oauth' });
    expect(await templatesStatus()).toBe(200);

    // A token endpoint that is down for a moment is no reason to reconnect: the next refresh works.
    await expireAccessToken();
    await tokenEndpointFault(503, 'service_unavailable', 1);
    expect(await templatesStatus()).toBe(502);
    expect((await settingsAs(adminUserId)).dottedsign).toMatchObject({ connected: true, status: 'ok' });
    expect(await templatesStatus()).toBe(200);

    await expireAccessToken();
    await tokenEndpointFault(400, 'invalid_grant', 1000);
    const templates = await s.api(scenario.demo.companyId, adminUserId, '/api/templates');
    expect(templates.status).toBe(502);
    expect((await settingsAs(adminUserId)).dottedsign).toMatchObject({ connected: true, status: 'reconnect_required', mode: 'oauth' });
    expect((await settingsAs(scenario.demo.regularUserId)).dottedsign).toMatchObject({ status: 'reconnect_required' });
    expect(((await templates.json()) as { error: { message: string } }).error.message).toContain('reconnect DottedSign');

    await s.dsim('/faults', { method: 'DELETE' });
    await connectThroughOAuth('ops@acme.test');
    expect((await settingsAs(adminUserId)).dottedsign).toMatchObject({ connected: true, status: 'ok', mode: 'oauth' });
    expect(await templatesStatus()).toBe(200);
  });

  it('refreshes a token DottedSign rejects with its documented 400 invalid_token, as with a 401, and goes on', async () => {
    const tokenCalls = async () => ((await (await s.dsim('/requests?method=POST&path=/v1/oauth/token')).json()) as unknown[]).length;
    expect(await templatesStatus()).toBe(200);
    const before = await tokenCalls();
    // The stored token has not run out by our clock, but DottedSign no longer takes it.
    await s.dsim('/faults', { body: { method: 'GET', path: '/v1/templates/list', status: 400, count: 1, body: { error_code: 400002, error_key: 'invalid_token', error_message: 'invalid token' } } });
    expect(await templatesStatus()).toBe(200);
    expect(await tokenCalls()).toBe(before + 1);
    expect((await settingsAs(scenario.demo.adminUserId)).dottedsign).toMatchObject({ connected: true, status: 'ok' });
  });

  it('says canEdit false to a user who is not a Pipedrive admin, true to an admin (and after an admin saves)', async () => {
    const { adminUserId, regularUserId, companyId } = scenario.demo;
    expect((await settingsAs(regularUserId)).canEdit).toBe(false);
    expect((await settingsAs(adminUserId)).canEdit).toBe(true);
    const saved = await s.api(companyId, adminUserId, '/api/settings', { method: 'PUT', body: { writeNotes: false } });
    expect(saved.status).toBe(200);
    expect(((await saved.json()) as SettingsView).canEdit).toBe(true);
    expect((await s.api(companyId, regularUserId, '/api/settings', { method: 'PUT', body: { writeNotes: true } })).status).toBe(403);
  });

  it('admin rights are Pipedrive’s as they are now: a demoted admin changes nothing, a promoted user may', async () => {
    const { adminUserId, regularUserId, companyId } = scenario.demo;
    const role = (userId: number, isAdmin: boolean) => s.sim(`/companies/${companyId}/users/${userId}`, { method: 'PATCH', body: { isAdmin } });
    const put = (userId: number) => s.api(companyId, userId, '/api/settings', { method: 'PUT', body: { writeNotes: true } });
    try {
      await role(adminUserId, false);
      await role(regularUserId, true);
      const refused = await put(adminUserId);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toBe('Only a Pipedrive admin can change the app settings');
      expect((await s.api(companyId, adminUserId, '/api/dottedsign/connection', { method: 'DELETE' })).status).toBe(403);
      const start = await fetch(`${s.app.url}/auth/dottedsign?token=${s.panelToken(companyId, adminUserId)}`, { redirect: 'manual' });
      expect(start.status).toBe(403);
      expect((await settingsAs(adminUserId)).canEdit).toBe(false);
      expect((await settingsAs(adminUserId)).dottedsign.connected).toBe(true);

      expect((await put(regularUserId)).status).toBe(200);
      expect((await settingsAs(regularUserId)).canEdit).toBe(true);
    } finally {
      await role(adminUserId, true);
      await role(regularUserId, false);
    }
    expect((await put(adminUserId)).status).toBe(200);
    expect((await put(regularUserId)).status).toBe(403);
    expect((await settingsAs(regularUserId)).canEdit).toBe(false);
  });

  it('a user made admin in Pipedrive after installing sees an editable settings page at once, not only after trying a change', async () => {
    const { companyId } = scenario.demo;
    const seller = (await (await s.sim(`/companies/${companyId}/users`, { body: { name: 'Promoted Seller', isAdmin: false } })).json()) as { id: number };
    await s.install(seller.id);
    await s.sim(`/companies/${companyId}/users/${seller.id}`, { method: 'PATCH', body: { isAdmin: true } });
    expect((await settingsAs(seller.id)).canEdit).toBe(true);
  });

  it('two admins editing at once: a save made from settings read before the other admin’s save is refused, not written over it', async () => {
    const { adminUserId, companyId } = scenario.demo;
    const second = (await (await s.sim(`/companies/${companyId}/users`, { body: { name: 'Second Admin', isAdmin: true } })).json()) as { id: number };
    await s.install(second.id);
    const put = (userId: number, body: Record<string, unknown>) => s.api(companyId, userId, '/api/settings', { method: 'PUT', body });
    const read = async (userId: number) => (await (await s.api(companyId, userId, '/api/settings')).json()) as SettingsView & { version: string; attachFiles: boolean; writeNotes: boolean };

    const pageOfFirst = await read(adminUserId);
    const pageOfSecond = await read(second.id);
    expect(pageOfSecond.version).toBe(pageOfFirst.version);
    const savedBySecond = await put(second.id, { version: pageOfSecond.version, attachFiles: !pageOfSecond.attachFiles, writeNotes: pageOfSecond.writeNotes });
    expect(savedBySecond.status).toBe(200);

    // The first admin's page still shows the old attachFiles; saving it would have undone the second admin's change.
    const stale = await put(adminUserId, { version: pageOfFirst.version, attachFiles: pageOfFirst.attachFiles, writeNotes: !pageOfFirst.writeNotes });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe('settings_changed');
    const now = await read(adminUserId);
    expect(now).toMatchObject({ attachFiles: !pageOfFirst.attachFiles, writeNotes: pageOfFirst.writeNotes });
    expect(now.version).not.toBe(pageOfFirst.version);

    expect((await put(adminUserId, { version: now.version, writeNotes: !now.writeNotes })).status).toBe(200);
    // A partial update without a version (an API client) changes only what it names.
    expect((await put(adminUserId, { writeNotes: now.writeNotes })).status).toBe(200);
    expect(await read(second.id)).toMatchObject({ attachFiles: !pageOfFirst.attachFiles, writeNotes: now.writeNotes });
  });
});
