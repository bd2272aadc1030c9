import { DataSource } from 'typeorm';
import { SecretBox } from '../../src/common/secret-box';
import { PRUNE_INBOX } from '../../src/inbox/inbox-retention.service';
import { AbandonedCompanies, ERASE_ABANDONED_COMPANIES } from '../../src/installations/abandoned-companies.service';
import { installationToken } from '../../src/installations/sealed-tokens';
import { JobQueue } from '../../src/jobs/job-queue.service';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { eventually } from '../support/test-app';

interface SimWebhook {
  id: number;
  subscription_url: string;
  event_action: string;
  event_object: string;
  http_auth_user: string | null;
}

describe('install from the Pipedrive Marketplace (app + Pipedrive simulator over HTTP)', () => {
  let s: Sandbox;
  let demo: { companyId: number; adminUserId: number; regularUserId: number };
  const db = () => s.app.app.get(DataSource);
  const simWebhooks = async (): Promise<SimWebhook[]> => (await (await s.sim(`/companies/${demo.companyId}/webhooks`)).json()) as SimWebhook[];
  const ours = async () => (await simWebhooks()).filter((hook) => hook.subscription_url === `${s.app.url}/webhooks/pipedrive`);

  beforeAll(async () => {
    s = await startSandbox();
    demo = s.pipedrive.demo;
  });
  afterAll(() => s?.close());

  it('installs: company, installation with sealed tokens, both deal webhooks with our Basic credentials, then the settings page', async () => {
    const result = await s.install(demo.adminUserId);
    expect(result.status).toBe(302);
    expect(result.location).toBe(`${s.pipedrive.apiDomain(demo.companyId)}/settings/marketplace/app/${s.credentials.pipedriveClientId}/app-settings`);

    const [company] = await db().query('SELECT id, name, domain FROM companies');
    expect(company).toEqual({ id: String(demo.companyId), name: 'Acme Sales', domain: 'acme' });
    const [installation] = await db().query('SELECT user_id, is_admin, access_token, refresh_token, api_domain, scopes FROM installations');
    expect(installation).toMatchObject({ user_id: String(demo.adminUserId), is_admin: true, api_domain: s.pipedrive.apiDomain(demo.companyId) });
    expect(installation.scopes).toEqual(expect.arrayContaining(['deals:full', 'admin']));
    expect(installation.access_token).toMatch(/^v2\./);
    const box = s.app.app.get(SecretBox);
    expect(box.decrypt(installation.access_token, installationToken(String(demo.companyId), String(demo.adminUserId), 'access_token'))).not.toBe(installation.access_token);
    // Bound to its row: the same value read as another user's token does not open.
    expect(() => box.decrypt(installation.access_token, installationToken(String(demo.companyId), String(demo.regularUserId), 'access_token'))).toThrow(/does not open/);

    const rows = await eventually(async () => {
      const recorded = await db().query('SELECT pipedrive_webhook_id, http_auth_user, password_hash FROM webhook_subscriptions ORDER BY event_action');
      return recorded.length === 2 ? recorded : undefined;
    }, 'both webhooks to be recorded');
    const hooks = await ours();
    expect(hooks.map((hook) => `${hook.event_object}.${hook.event_action}`).sort()).toEqual(['deal.create', 'deal.delete']);
    for (const row of rows) {
      const hook = hooks.find((candidate) => candidate.id === Number(row.pipedrive_webhook_id))!;
      expect(hook.http_auth_user).toBe(row.http_auth_user);
      expect(row.password_hash).toMatch(/^sha256\$/);
    }
  });

  it('installing again and installing as a second user keeps one company and one pair of webhooks', async () => {
    await s.install(demo.adminUserId);
    const second = await s.install(demo.regularUserId);
    expect(second.status).toBe(302);
    await eventually(async () => {
      const [{ count }] = await db().query(`SELECT count(*)::int AS count FROM pgboss.job WHERE name = 'pipedrive.ensure-webhooks' AND state <> 'completed'`);
      return count === 0;
    }, 'webhook set-up jobs to finish');
    expect(await db().query('SELECT count(*)::int AS count FROM companies')).toEqual([{ count: 1 }]);
    expect(await db().query('SELECT count(*)::int AS count FROM installations')).toEqual([{ count: 2 }]);
    expect(await ours()).toHaveLength(2);
    expect(await db().query('SELECT count(*)::int AS count FROM webhook_subscriptions')).toEqual([{ count: 2 }]);
  });

  it('ends denied, tampered and expired attempts on clear pages, never a 5xx', async () => {
    const denied = await fetch(`${s.app.url}/auth/pipedrive/callback?error=user_denied`);
    expect(denied.status).toBe(200);
    expect(await denied.text()).toContain('You cancelled the installation');

    for (const state of ['state=forged.state', 'state=a.b&state=c.d']) {
      const badState = await fetch(`${s.app.url}/auth/pipedrive/callback?code=abc&${state}`);
      expect(badState.status).toBe(400);
      expect(await badState.text()).toContain('expired or was altered');
    }

    const unknownCode = await fetch(`${s.app.url}/auth/pipedrive/callback?code=not-a-real-code`);
    expect(unknownCode.status).toBe(400);
    const page = await unknownCode.text();
    expect(page).toContain('Start the installation again');
    expect(page).not.toMatch(/at \w+ \(|stack/i);

    const noCode = await fetch(`${s.app.url}/auth/pipedrive/callback`);
    expect(noCode.status).toBe(400);
  });

  it('an install whose token lacks a scope the app needs ends on a page that says which, and installs nothing', async () => {
    const { scopes } = (await (await s.sim('/app')).json()) as { scopes: string[] };
    await s.sim('/app', { method: 'PATCH', body: { scopes: scopes.filter((scope) => scope !== 'admin') } });
    try {
      const before = await db().query('SELECT company_id, user_id, refreshed_at FROM installations ORDER BY id');
      const company = (await (await s.sim('/companies', { body: { name: 'Scopeless Ltd' } })).json()) as { id: number };
      const user = (await (await s.sim(`/companies/${company.id}/users`, { body: { name: 'Sid Scopeless', isAdmin: true } })).json()) as { id: number };
      const result = await s.install(user.id);
      expect(result.status).toBe(403);
      expect(result.location).toContain('did not get them: admin');
      expect(await db().query('SELECT count(*)::int AS count FROM companies WHERE id = $1', [company.id])).toEqual([{ count: 0 }]);
      expect(await db().query('SELECT company_id, user_id, refreshed_at FROM installations ORDER BY id')).toEqual(before);
    } finally {
      await s.sim('/app', { method: 'PATCH', body: { scopes } });
    }
  });

  it('rejects a forged uninstall notice and deletes nothing', async () => {
    const forged = await fetch(`${s.app.url}/auth/pipedrive/callback`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${s.credentials.pipedriveClientId}:wrong`).toString('base64')}` },
      body: JSON.stringify({ client_id: s.credentials.pipedriveClientId, company_id: demo.companyId, user_id: demo.adminUserId }),
    });
    expect(forged.status).toBe(401);
    expect(await db().query('SELECT count(*)::int AS count FROM installations')).toEqual([{ count: 2 }]);
  });

  it('uninstall removes that user; the last one erases the company; repeating is harmless', async () => {
    const first = await (await s.sim('/uninstall', { body: { companyId: demo.companyId, userId: demo.regularUserId } })).json();
    expect(JSON.stringify(first)).toContain('200');
    expect(await db().query('SELECT user_id FROM installations')).toEqual([{ user_id: String(demo.adminUserId) }]);
    expect(await db().query('SELECT count(*)::int AS count FROM companies')).toEqual([{ count: 1 }]);

    // A delivery just before the last uninstall: the app has verified its credentials and remembers them a while.
    const deal = (await (await s.sim(`/companies/${demo.companyId}/deals`, { body: { title: 'Added before the uninstall' } })).json()) as { id: number };
    const delivery = await eventually(async () => {
      const deliveries = (await (await s.sim('/webhooks/deliveries')).json()) as Array<{ body: string; headers: Record<string, string>; outcome: string }>;
      return deliveries.find((attempt) => attempt.outcome === 'delivered' && attempt.body.includes(`"entity_id":"${deal.id}"`));
    }, 'the create delivery accepted');

    await s.sim('/uninstall', { body: { companyId: demo.companyId, userId: demo.adminUserId } });
    // Pipedrive retrying, or an event in flight, after the erase: refused, and nothing of the company is stored again.
    const late = JSON.parse(delivery.body) as { meta: Record<string, unknown> };
    const afterwards = await fetch(`${s.app.url}/webhooks/pipedrive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: delivery.headers.authorization },
      body: JSON.stringify({ ...late, meta: { ...late.meta, id: 'event-after-the-uninstall' } }),
    });
    expect(afterwards.status).toBe(401);
    for (const table of ['companies', 'installations', 'webhook_subscriptions', 'contracts', 'esign_connections', 'inbox_events']) {
      expect(await db().query(`SELECT count(*)::int AS count FROM ${table}`)).toEqual([{ count: 0 }]);
    }
    // A delivery committed in the same instant as the erase outlives it; the daily inbox job deletes it.
    await db().query(`INSERT INTO inbox_events (source, dedupe_key, event_type, company_id, payload, status) VALUES ('pipedrive', 'raced-the-erase', 'deal:create', $1, '{}', 'ignored')`, [demo.companyId]);
    await s.app.app.get(JobQueue).send(PRUNE_INBOX, {});
    await eventually(async () => ((await db().query('SELECT count(*)::int AS count FROM inbox_events')) as Array<{ count: number }>)[0].count === 0, 'the erased company’s event deleted');
    const again = await fetch(`${s.app.url}/auth/pipedrive/callback`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${s.credentials.pipedriveClientId}:${s.credentials.pipedriveClientSecret}`).toString('base64')}` },
      body: JSON.stringify({ client_id: s.credentials.pipedriveClientId, company_id: demo.companyId, user_id: demo.adminUserId, timestamp: new Date().toISOString() }),
    });
    expect(again.status).toBe(200);
  });

  it('the last user able to act uninstalling erases the company, though another user’s install lingers whose uninstall notice never came', async () => {
    await s.install(demo.adminUserId);
    await s.install(demo.regularUserId);
    // Pipedrive sends an uninstall notice once; the regular user's was lost, and their refresh token has since been refused.
    await db().query(`UPDATE installations SET invalid_reason = 'token refresh failed: Invalid grant: refresh_token is invalid' WHERE user_id = $1`, [demo.regularUserId]);
    await s.sim('/uninstall', { body: { companyId: demo.companyId, userId: demo.adminUserId } });
    for (const table of ['companies', 'installations', 'webhook_subscriptions', 'esign_connections']) {
      expect(await db().query(`SELECT count(*)::int AS count FROM ${table}`)).toEqual([{ count: 0 }]);
    }
  });

  it('the same when the lingering install was never refused but its refresh token lapsed unused (61 days)', async () => {
    await s.install(demo.adminUserId);
    await s.install(demo.regularUserId);
    // Nothing refreshes a regular user's token but their own panel: unused for 60 days, Pipedrive's refresh token expires.
    await db().query(`UPDATE installations SET refreshed_at = now() - interval '61 days' WHERE user_id = $1`, [demo.regularUserId]);
    await s.sim('/uninstall', { body: { companyId: demo.companyId, userId: demo.adminUserId } });
    for (const table of ['companies', 'installations', 'webhook_subscriptions', 'esign_connections']) {
      expect(await db().query(`SELECT count(*)::int AS count FROM ${table}`)).toEqual([{ count: 0 }]);
    }
  });

  it('the last two users uninstalling at the same moment still erase the company', async () => {
    for (let round = 1; round <= 3; round += 1) {
      await s.install(demo.adminUserId);
      await s.install(demo.regularUserId);
      expect(await db().query('SELECT count(*)::int AS count FROM installations')).toEqual([{ count: 2 }]);
      await Promise.all([demo.adminUserId, demo.regularUserId].map((userId) => s.sim('/uninstall', { body: { companyId: demo.companyId, userId } })));
      for (const table of ['companies', 'installations', 'webhook_subscriptions', 'esign_connections']) {
        expect(await db().query(`SELECT count(*)::int AS count FROM ${table}`)).toEqual([{ count: 0 }]);
      }
    }
  });

  it('a deal added while the webhooks are being set up is accepted at its first delivery', async () => {
    // Pipedrive delivers with a webhook's credentials from the moment it created it; here the second create is slow.
    await s.sim('/faults', { body: { method: 'POST', path: `/c/${demo.companyId}/api/v1/webhooks`, latencyMs: 3000, skip: 1 } });
    await s.install(demo.adminUserId);
    // Recorded, not only created at Pipedrive: the app stores a webhook's credentials once Pipedrive has answered.
    await eventually(async () => (await db().query('SELECT count(*)::int AS count FROM webhook_subscriptions'))[0].count === 1, 'the first webhook recorded');
    expect(await ours()).toHaveLength(1);
    const deal = (await (await s.sim(`/companies/${demo.companyId}/deals`, { body: { title: 'Added during the set-up' } })).json()) as { id: number };
    const first = await eventually(async () => {
      const deliveries = (await (await s.sim('/webhooks/deliveries')).json()) as Array<{ body: string; outcome: string; meta?: { attempt?: number } }>;
      return deliveries.find((attempt) => attempt.body.includes(`"entity_id":"${deal.id}"`));
    }, 'the create delivery attempted');
    expect(first.outcome).toBe('delivered');
    await eventually(async () => (await ours()).length === 2, 'both webhooks created');
    // Pipedrive has the second webhook a moment before the app has recorded it.
    await eventually(async () => (await db().query('SELECT count(*)::int AS count FROM webhook_subscriptions'))[0].count === 2, 'both webhooks recorded');
  });

  it('a company whose every installation Pipedrive refused over 30 days ago is erased by the daily job; a recent refusal or a working user keeps it', async () => {
    const beta = (await (await s.sim('/companies', { body: { name: 'Beta Corp' } })).json()) as { id: number };
    const betaAdmin = (await (await s.sim(`/companies/${beta.id}/users`, { body: { name: 'Bea Admin', isAdmin: true } })).json()) as { id: number };
    await s.install(betaAdmin.id);
    await s.install(demo.adminUserId);
    await s.install(demo.regularUserId);
    const refuse = (userId: number, daysAgo: number) =>
      db().query(`UPDATE installations SET invalid_reason = 'token refresh failed: Invalid grant', invalid_since = now() - make_interval(days => $2) WHERE user_id = $1`, [userId, daysAgo]);
    const companies = async () => ((await db().query('SELECT id FROM companies ORDER BY id')) as Array<{ id: string }>).map((row) => Number(row.id));

    // Acme: one user refused long ago, the other working. Beta: its only user refused 29 days ago.
    await refuse(demo.regularUserId, 45);
    await refuse(betaAdmin.id, 29);
    expect(await s.app.app.get(AbandonedCompanies).erase()).toEqual([]);
    expect(await companies()).toEqual([demo.companyId, beta.id].sort((x, y) => x - y));

    // Acme's last working user refused 31 days ago too: nobody can act for it, and its data goes.
    await refuse(demo.adminUserId, 31);
    await s.app.app.get(JobQueue).send(ERASE_ABANDONED_COMPANIES, {});
    await eventually(async () => !(await companies()).includes(demo.companyId), 'the daily job to erase Acme');
    expect(await companies()).toEqual([beta.id]);
    for (const table of ['installations', 'webhook_subscriptions', 'esign_connections']) {
      expect(await db().query(`SELECT count(*)::int AS count FROM ${table} WHERE company_id = $1`, [demo.companyId])).toEqual([{ count: 0 }]);
    }

    // Beta's install was never refused, but nothing used it: its refresh token lapsed after 60 days, and 30 more on it goes.
    await db().query(`UPDATE installations SET invalid_reason = NULL, invalid_since = NULL, refreshed_at = now() - interval '89 days' WHERE user_id = $1`, [betaAdmin.id]);
    expect(await s.app.app.get(AbandonedCompanies).erase()).toEqual([]);
    await db().query(`UPDATE installations SET refreshed_at = now() - interval '91 days' WHERE user_id = $1`, [betaAdmin.id]);
    expect(await s.app.app.get(AbandonedCompanies).erase()).toEqual([String(beta.id)]);
    expect(await companies()).toEqual([]);
  });
});
