import { DataSource } from 'typeorm';
import { SecretBox } from '../../src/common/secret-box';
import { installationToken, type TokenColumn } from '../../src/installations/sealed-tokens';
import { JobQueue } from '../../src/jobs/job-queue.service';
import { WEBHOOK_HEALTH } from '../../src/pipedrive/pipedrive.jobs';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { eventually } from '../support/test-app';

describe('webhook upkeep and disconnecting from the settings page (app + Pipedrive simulator)', () => {
  let s: Sandbox;
  let scenario: Scenario;
  const db = () => s.app.app.get(DataSource);
  const ourWebhooks = async () =>
    ((await (await s.sim(`/companies/${scenario.demo.companyId}/webhooks`)).json()) as Array<{ id: number; subscription_url: string }>).filter(
      (hook) => hook.subscription_url === `${s.app.url}/webhooks/pipedrive`,
    );

  beforeAll(async () => {
    s = await startSandbox();
    scenario = new Scenario(s);
    await scenario.installAndConnect();
  });
  afterAll(() => s?.close());

  it('the health job recreates deal webhooks that Pipedrive deleted, and deliveries work again', async () => {
    const [installation] = await db().query('SELECT access_token, api_domain FROM installations WHERE user_id = $1', [scenario.demo.adminUserId]);
    const token = s.app.app.get(SecretBox).decrypt(installation.access_token, installationToken(String(scenario.demo.companyId), String(scenario.demo.adminUserId), 'access_token'));
    for (const hook of await ourWebhooks()) {
      const deleted = await fetch(`${installation.api_domain}/api/v1/webhooks/${hook.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      expect(deleted.status).toBe(200);
    }
    expect(await ourWebhooks()).toEqual([]);

    await s.app.app.get(JobQueue).send(WEBHOOK_HEALTH, {});
    await eventually(async () => (await ourWebhooks()).length === 2, 'both webhooks to be recreated');
    await scenario.drained();
    const [{ count }] = await db().query('SELECT count(*)::int AS count FROM webhook_subscriptions');
    expect(count).toBe(2);

    const deal = await scenario.addDeal({ title: 'After the repair', person_id: scenario.demo.personWithEmailId });
    expect((await scenario.contractSettled(deal.id)).status).toBe('waiting');
  });

  // Whether one user may list or delete another's webhooks is not documented: each reading the simulator can play.
  it.each([
    { list: 'company', delete: 'company', deletedBy: 'new owner', refused: 0 },
    { list: 'company', delete: 'own', deletedBy: 'former owner', refused: 2 },
    { list: 'own', delete: 'own', deletedBy: 'former owner', refused: 0 },
  ] as const)('webhooks owned by an admin who is demoted move to another admin, so deals only admins and their owner see still raise events; the $deletedBy deletes the old ones (listed by $list, deleted by $delete)', async ({ deletedBy, refused: refusals, ...access }) => {
    const { companyId, adminUserId, regularUserId } = scenario.demo;
    const owners = async () => ((await db().query('SELECT DISTINCT owner_user_id FROM webhook_subscriptions')) as Array<{ owner_user_id: string }>).map((row) => row.owner_user_id);
    expect(await owners()).toEqual([String(adminUserId)]);
    const created = await s.sim(`/companies/${companyId}/users`, { body: { name: 'Second Admin', isAdmin: true } });
    const { id: secondAdmin } = (await created.json()) as { id: number };
    await s.install(secondAdmin);
    await scenario.drained();
    expect(await owners()).toEqual([String(adminUserId)]);
    expect((await s.sim(`/companies/${companyId}/users/${adminUserId}`, { method: 'PATCH', body: { isAdmin: false } })).status).toBe(200);
    const webhookCalls = async (method: string) =>
      ((await (await s.sim(`/requests?method=${method}&path=/c/${companyId}/api/v1/webhooks*`)).json()) as Array<{ seq: number; status: number; headers: { authorization: string } }>).sort(
        (a, b) => a.seq - b.seq,
      );
    const before = Math.max(0, ...(await webhookCalls('DELETE')).map((request) => request.seq), ...(await webhookCalls('POST')).map((request) => request.seq));
    await s.sim('/webhook-access', { method: 'PUT', body: access });
    try {
      // A deal visible to its owner (a regular user) and admins only: Pipedrive sends its events to admins' webhooks.
      await s.app.app.get(JobQueue).send(WEBHOOK_HEALTH, {});
      await eventually(async () => JSON.stringify(await owners()) === JSON.stringify([String(secondAdmin)]), 'the webhooks to move to the other admin');
      await eventually(async () => (await ourWebhooks()).length === 2, 'the old webhooks to be deleted');
      // The new owner made the new webhooks; the old ones went in the same pass, by whoever Pipedrive let.
      const newOwner = new Set((await webhookCalls('POST')).filter((request) => request.seq > before).map((request) => request.headers.authorization));
      expect(newOwner.size).toBe(1);
      const deletes = (await webhookCalls('DELETE')).filter((request) => request.seq > before);
      const refused = deletes.filter((request) => request.status === 403);
      const deleted = deletes.filter((request) => request.status === 200);
      expect([refused.length, deleted.length]).toEqual([refusals, 2]);
      expect(refused.every((request) => newOwner.has(request.headers.authorization))).toBe(true);
      expect(new Set(deleted.map((request) => request.headers.authorization)).size).toBe(1);
      expect(newOwner.has(deleted[0].headers.authorization)).toBe(deletedBy === 'new owner');
      const deal = await scenario.addDeal({ title: 'Owner-only deal', person_id: scenario.demo.personWithEmailId, owner_id: regularUserId, visible_to: 1 });
      expect((await scenario.contractSettled(deal.id)).status).toBe('waiting');
    } finally {
      await s.sim('/webhook-access', { method: 'PUT', body: { list: 'company', delete: 'company' } });
      // Back as the other tests expect it: the first admin an admin again (they save the settings, an admin's action,
      // so the app asks Pipedrive and learns it) and the second one uninstalled, which hands the webhooks back.
      await s.sim(`/companies/${companyId}/users/${adminUserId}`, { method: 'PATCH', body: { isAdmin: true } });
      expect((await s.api(companyId, adminUserId, '/api/settings', { method: 'PUT', body: {} })).status).toBe(200);
      await s.sim('/uninstall', { body: { companyId, userId: secondAdmin } });
      await eventually(async () => JSON.stringify(await owners()) === JSON.stringify([String(adminUserId)]) && (await ourWebhooks()).length === 2, 'the webhooks back with the first admin');
      await scenario.drained();
    }
  });

  it('only an admin may disconnect; disconnecting revokes the token at Pipedrive and erases the company', async () => {
    await s.install(scenario.demo.regularUserId);
    const refused = await s.api(scenario.demo.companyId, scenario.demo.regularUserId, '/api/pipedrive/disconnect', { method: 'POST', body: {} });
    expect(refused.status).toBe(403);
    await s.sim('/uninstall', { body: { companyId: scenario.demo.companyId, userId: scenario.demo.regularUserId } });

    // Pipedrive failing to revoke: a clear 502, and nothing changed.
    await s.sim('/faults', { body: { method: 'POST', path: '/oauth/revoke', status: 503, count: 1, body: { success: false, error: 'Service unavailable' } } });
    const unavailable = await s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/pipedrive/disconnect', { method: 'POST', body: {} });
    expect(unavailable.status).toBe(502);
    expect(await unavailable.json()).toEqual({ error: { code: 'pipedrive_unavailable', message: expect.stringContaining('nothing was changed') } });
    expect(await db().query('SELECT count(*)::int AS count FROM installations')).toEqual([{ count: 1 }]);

    // Pipedrive refusing the app's client secret (regenerated in Developer Hub): nothing changed either.
    const secret = s.appEnv.PIPEDRIVE_CLIENT_SECRET;
    await s.sim('/app', { method: 'PATCH', body: { clientSecret: 'regenerated-in-developer-hub' } });
    const refusedClient = await s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/pipedrive/disconnect', { method: 'POST', body: {} });
    await s.sim('/app', { method: 'PATCH', body: { clientSecret: secret } });
    expect(refusedClient.status).toBe(502);
    expect(await refusedClient.json()).toEqual({ error: { code: 'pipedrive_unavailable', message: expect.stringContaining('nothing was changed') } });
    expect(await db().query('SELECT count(*)::int AS count FROM installations')).toEqual([{ count: 1 }]);

    // Another process refreshes the token as the admin disconnects: the disconnect revokes the token Pipedrive holds
    // once that refresh is saved, not the one it replaced (revoking that uninstalls nobody).
    const refreshing = await db().createQueryRunner();
    await refreshing.connect();
    await refreshing.startTransaction();
    const [row] = await refreshing.query('SELECT id, refresh_token FROM installations WHERE user_id = $1 FOR UPDATE', [scenario.demo.adminUserId]);
    const box = s.app.app.get(SecretBox);
    const place = (column: TokenColumn) => installationToken(String(scenario.demo.companyId), String(scenario.demo.adminUserId), column);
    const rotated = (await (
      await fetch(`${s.pipedrive.url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${s.credentials.pipedriveClientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: box.decrypt(row.refresh_token, place('refresh_token')) }),
      })
    ).json()) as { access_token: string; refresh_token: string };
    const disconnecting = s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/pipedrive/disconnect', { method: 'POST', body: {} });
    await new Promise((resolve) => setTimeout(resolve, 500));
    await refreshing.query('UPDATE installations SET access_token = $2, refresh_token = $3 WHERE id = $1', [row.id, box.encrypt(rotated.access_token, place('access_token')), box.encrypt(rotated.refresh_token, place('refresh_token'))]);
    await refreshing.commitTransaction();
    await refreshing.release();
    const disconnected = await disconnecting;
    expect(disconnected.status).toBe(200);
    const installations = (await (await s.sim('/installations')).json()) as Array<{ clientId: string; companyId: number }>;
    expect(installations.filter((entry) => entry.clientId === s.credentials.pipedriveClientId)).toEqual([]);
    for (const table of ['companies', 'installations', 'webhook_subscriptions', 'contracts', 'contract_events', 'esign_connections', 'inbox_events']) {
      expect(await db().query(`SELECT count(*)::int AS count FROM ${table}`)).toEqual([{ count: 0 }]);
    }
    expect(await ourWebhooks()).toEqual([]);
  });
});
