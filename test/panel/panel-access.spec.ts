import jwt from 'jsonwebtoken';
import { SignedTokens } from '../../src/common/signed-tokens';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { eventually } from '../support/test-app';

interface ContractJson {
  id: number;
  status: string;
  downloads: Array<{ kind: string; url: string }>;
}

describe('panel pages and API: identity only from a valid JWT, every read and write scoped to its company', () => {
  let s: Sandbox;
  let scenario: Scenario;
  let a: { companyId: number; userId: number };
  let b: { companyId: number; userId: number };
  let completed: ContractJson;
  let waiting: ContractJson;

  const get = (url: string, token?: string) => fetch(`${s.app.url}${url}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    s = await startSandbox();
    scenario = new Scenario(s);
    await scenario.installAndConnect({ autoSend: { enabled: false } });
    a = { companyId: scenario.demo.companyId, userId: scenario.demo.adminUserId };

    const company = (await (await s.sim('/companies', { body: { name: 'Beta Corp' } })).json()) as { id: number };
    const user = (await (await s.sim(`/companies/${company.id}/users`, { body: { name: 'Bea Admin', isAdmin: true } })).json()) as { id: number };
    b = { companyId: company.id, userId: user.id };
    await s.install(b.userId);
    expect((await s.api(b.companyId, b.userId, '/api/dottedsign/connect-app-account', { method: 'POST', body: {} })).status).toBe(200);

    const send = async () => {
      const response = await s.api(a.companyId, a.userId, `/api/deals/${scenario.demo.dealId}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
      expect(response.status).toBe(201);
      return ((await response.json()) as { contract: ContractJson }).contract;
    };
    const first = await send();
    const [task] = (await scenario.tasks()).filter((t) => String(t.metadata.pipedrive_contract_id) === String(first.id));
    await s.dsim(`/tasks/${task.task_id}/sign`, { body: { email: 'pia@customer.test' } });
    await scenario.contractSettled(scenario.demo.dealId, (status) => status === 'completed');
    completed = ((await (await s.api(a.companyId, a.userId, `/api/deals/${scenario.demo.dealId}/contracts`)).json()) as { contracts: ContractJson[] }).contracts.find((c) => c.id === first.id)!;
    waiting = await send();
  });
  afterAll(() => s?.close());

  describe('an expired, forged or missing JWT gets 401 and nothing else', () => {
    const secret = () => s.credentials.pipedriveClientSecret;
    const claims = () => ({ companyId: a.companyId, userId: a.userId });
    const bad: Record<string, () => string | undefined> = {
      missing: () => undefined,
      expired: () => jwt.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 5 }, secret(), { algorithm: 'HS256' }),
      'signed with another secret': () => jwt.sign(claims(), 'not-the-secret', { algorithm: 'HS256', expiresIn: 300 }),
      'HS512 with the right secret': () => jwt.sign(claims(), secret(), { algorithm: 'HS512', expiresIn: 300 }),
      'alg none': () => `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims(), exp: 9999999999 })).toString('base64url')}.`,
      'without an expiry': () => jwt.sign(claims(), secret(), { algorithm: 'HS256' }),
      'non-numeric ids': () => jwt.sign({ companyId: 'acme', userId: a.userId }, secret(), { algorithm: 'HS256', expiresIn: 300 }),
    };

    it.each(Object.keys(bad))('%s → 401 on /api', async (name) => {
      for (const path of ['/api/settings', `/api/deals/${scenario.demo.dealId}/contracts`, `/api/contracts/${completed.id}/files/completed`, `/api/deals/${scenario.demo.dealId}/signers`]) {
        const response = await get(path, bad[name]());
        expect(response.status).toBe(401);
        expect(response.headers.get('cache-control')).toBe('no-store');
        expect(await response.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      }
    });

    it.each(Object.keys(bad))('%s → a 401 page for /panel and /settings', async (name) => {
      const token = bad[name]();
      for (const path of ['/panel', '/settings']) {
        const response = await get(token ? `${path}?token=${encodeURIComponent(token)}` : path);
        expect(response.status).toBe(401);
        expect(response.headers.get('content-type')).toContain('text/html');
        expect(response.headers.get('cache-control')).toBe('no-store');
        const html = await response.text();
        expect(html).toContain('Session expired');
        expect(html).not.toContain('/assets/');
      }
    });
  });

  it('serves the pages for a valid token: not cached, frameable by Pipedrive only; assets cached for good', async () => {
    const token = s.panelToken(a.companyId, a.userId);
    const panel = await get(`/panel?token=${token}&id=ext-1&selectedIds=${scenario.demo.dealId}&resource=deal&view=details&theme=dark`);
    expect(panel.status).toBe(200);
    expect(panel.headers.get('cache-control')).toBe('no-store');
    expect(panel.headers.get('content-security-policy')).toContain("frame-ancestors 'self' https://*.pipedrive.com");
    expect(panel.headers.get('x-frame-options')).toBeNull();
    const html = await panel.text();
    const script = /src="(\/assets\/panel-[\w-]+\.js)"/.exec(html)![1];
    const asset = await get(script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toContain('javascript');
    expect((await get(`/settings?token=${token}`)).status).toBe(200);
    for (const path of ['/assets/..%2Fpanel.html', '/assets/missing.js', '/assets/.hidden.js']) expect((await get(path)).status).toBe(404);
  });

  it('company B’s JWT sees none of company A’s contracts, settings or files, and changes nothing', async () => {
    const asB = (path: string, init?: { method?: string; body?: unknown }) => s.api(b.companyId, b.userId, path, init);

    // Pipedrive does not show B's user A's deal, and B holds nothing for that id: no such deal, and no send to it.
    for (const [method, body] of [['GET', undefined], ['POST', { signers: [{ name: 'Eve', email: 'eve@example.test' }] }]] as const) {
      const refused = await asB(`/api/deals/${scenario.demo.dealId}/contracts`, { method, body });
      expect([refused.status, await refused.json()]).toEqual([404, { error: { code: 'not_found', message: 'No such deal in Pipedrive' } }]);
    }
    expect(await scenario.db().query('SELECT id FROM contracts WHERE company_id = $1', [b.companyId])).toEqual([]);

    for (const [method, path] of [
      ['POST', `/api/contracts/${waiting.id}/void`],
      ['POST', `/api/contracts/${waiting.id}/retry`],
      ['GET', `/api/contracts/${completed.id}/files/completed`],
      ['GET', `/api/contracts/${completed.id}/files/audit_trail`],
    ]) {
      const response = await asB(path, { method, body: method === 'POST' ? {} : undefined });
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('application/json');
      expect(await response.json()).toEqual({ error: { code: 'not_found', message: 'No such contract' } });
    }

    const settingsOfA = await (await s.api(a.companyId, a.userId, '/api/settings')).json();
    const settingsOfB = await (await asB('/api/settings')).json();
    expect(settingsOfB.templateId).toBeNull();
    expect((await asB('/api/settings', { method: 'PUT', body: { templateId: 999, writeNotes: false } })).status).toBe(200);
    expect(await (await s.api(a.companyId, a.userId, '/api/settings')).json()).toEqual(settingsOfA);

    // A user of B claiming A's company in a JWT we signed is not installed there.
    for (const path of [`/api/deals/${scenario.demo.dealId}/contracts`, `/api/contracts/${completed.id}/files/completed`, `/api/contracts/${completed.id}/files/audit_trail`]) {
      const crossed = await s.api(a.companyId, b.userId, path);
      expect(crossed.status).toBe(403);
      expect(await crossed.json()).toEqual({ error: { code: 'forbidden', message: 'The app is not installed for this Pipedrive user' } });
    }

    const [row] = await scenario.db().query('SELECT status FROM contracts WHERE id = $1', [waiting.id]);
    expect(row.status).toBe('waiting');
  });

  it('a deal Pipedrive hides from a user (owner-only, not theirs): its contracts are not listed, sent, voided, retried or downloaded for them; once shown, they are', async () => {
    const regular = scenario.demo.regularUserId;
    await s.install(regular);
    const hidden = (await (await s.sim(`/companies/${a.companyId}/deals`, { body: { title: 'Owner only', owner_id: a.userId, visible_to: 1, person_id: scenario.demo.personWithEmailId } })).json()) as { id: number };
    const sent = await s.api(a.companyId, a.userId, `/api/deals/${hidden.id}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
    expect(sent.status).toBe(201);
    const { contract } = (await sent.json()) as { contract: ContractJson };
    const [task] = (await scenario.tasks()).filter((t) => String(t.metadata.pipedrive_contract_id) === String(contract.id));
    await s.dsim(`/tasks/${task.task_id}/sign`, { body: { email: 'pia@customer.test' } });
    await scenario.contractSettled(hidden.id, (status) => status === 'completed');

    const notVisible = { error: { code: 'deal_not_visible', message: 'Pipedrive does not show you this deal' } };
    for (const [method, path] of [
      ['GET', `/api/deals/${hidden.id}/contracts`],
      ['GET', `/api/deals/${hidden.id}/signers`],
      ['POST', `/api/deals/${hidden.id}/contracts`],
      ['POST', `/api/contracts/${contract.id}/void`],
      ['POST', `/api/contracts/${contract.id}/retry`],
      ['GET', `/api/contracts/${contract.id}/files/completed`],
      ['GET', `/api/contracts/${contract.id}/files/audit_trail`],
    ]) {
      const body = path.endsWith('/contracts') && method === 'POST' ? { signers: [{ name: 'Eve', email: 'eve@example.test' }] } : method === 'POST' ? {} : undefined;
      const response = await s.api(a.companyId, regular, path, { method, body });
      expect([path, response.status, await response.json()]).toEqual([path, 403, notVisible]);
    }
    expect(await scenario.contracts(hidden.id)).toHaveLength(1);
    expect((await s.api(a.companyId, a.userId, `/api/deals/${hidden.id}/contracts`)).status).toBe(200);

    // Shared with the whole company in Pipedrive: a refusal is not remembered, so the next poll shows the contracts.
    await s.sim(`/companies/${a.companyId}/deals/${hidden.id}`, { method: 'PATCH', body: { visible_to: 3 } });
    const shown = await s.api(a.companyId, regular, `/api/deals/${hidden.id}/contracts`);
    expect(shown.status).toBe(200);
    expect(((await shown.json()) as { contracts: ContractJson[] }).contracts.map((c) => c.id)).toEqual([contract.id]);
    expect((await s.api(a.companyId, regular, `/api/contracts/${contract.id}/files/completed`)).status).toBe(200);

    // A deleted deal's visibility cannot be read: its contracts stay with admins, who see every deal, to read; nobody
    // sends to it.
    const deleted = await scenario.addDeal({ title: 'Deleted before anyone looked', owner_id: regular, person_id: scenario.demo.personWithEmailId });
    expect((await s.api(a.companyId, a.userId, `/api/deals/${deleted.id}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } })).status).toBe(201);
    await scenario.deleteDeal(deleted.id);
    await scenario.contractSettled(deleted.id, (status) => status === 'voided');
    const asRegular = await s.api(a.companyId, regular, `/api/deals/${deleted.id}/contracts`);
    expect([asRegular.status, await asRegular.json()]).toEqual([404, { error: { code: 'not_found', message: 'No such deal in Pipedrive' } }]);
    // The same user made an admin in Pipedrive (who never had the deal shown to them here).
    await s.sim(`/companies/${a.companyId}/users/${regular}`, { method: 'PATCH', body: { isAdmin: true } });
    try {
      const asAdmin = await s.api(a.companyId, regular, `/api/deals/${deleted.id}/contracts`);
      expect([asAdmin.status, ((await asAdmin.json()) as { contracts: ContractJson[] }).contracts.map((c) => c.status)]).toEqual([200, ['voided']]);
      const sendToDeleted = await s.api(a.companyId, regular, `/api/deals/${deleted.id}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
      expect([sendToDeleted.status, await sendToDeleted.json()]).toEqual([404, { error: { code: 'not_found', message: 'No such deal in Pipedrive' } }]);
      expect(await scenario.contracts(deleted.id)).toHaveLength(1);
    } finally {
      await s.sim(`/companies/${a.companyId}/users/${regular}`, { method: 'PATCH', body: { isAdmin: false } });
    }
    // A deal id that was never the company's is no deal, for admins too.
    const never = await s.api(a.companyId, a.userId, '/api/deals/987654/contracts');
    expect([never.status, await never.json()]).toEqual([404, { error: { code: 'not_found', message: 'No such deal in Pipedrive' } }]);
  });

  it('opening a page starts the Pipedrive reads its first calls need (role, deal), which those calls then share; a refusal is not kept', async () => {
    const user = (await (await s.sim(`/companies/${a.companyId}/users`, { body: { name: 'Opens Panels', isAdmin: false } })).json()) as { id: number };
    await s.install(user.id);
    const deal = (title: string, more: Record<string, unknown> = {}) => scenario.addDeal({ title, owner_id: user.id, person_id: scenario.demo.personWithEmailId, ...more });
    const shown = await deal('Opened from Pipedrive');
    const second = await deal('Opened while the first is read');
    const hidden = await deal('Owner only, opened by another', { owner_id: a.userId, visible_to: 1 });
    const last = await deal('Opened last');
    await scenario.drained();
    await s.sim('/requests', { method: 'DELETE' });
    const reads = async () => ((await (await s.sim('/requests?method=GET')).json()) as Array<{ path: string }>).map((read) => read.path.replace(/^\/c\/\d+/, ''));
    const readsOf = async (path: string) => (await reads()).filter((read) => read === path).length;
    const openPage = async (page: string) => {
      const response = await get(`${page}${page.includes('?') ? '&' : '?'}token=${s.panelToken(a.companyId, user.id)}`);
      expect(response.status).toBe(200);
      await response.text();
    };
    const panelOf = (dealId: number | string) => `/panel?id=ext-1&selectedIds=${dealId}&resource=deal&view=details`;

    // Pipedrive answers the page's two reads late, so the calls arrive while they are under way.
    for (const path of [`/api/v2/deals/${shown.id}`, '/api/v1/users/me']) {
      await s.sim('/faults', { body: { method: 'GET', path: `/c/${a.companyId}${path}`, latencyMs: 500, count: 1 } });
    }
    await openPage(panelOf(shown.id));
    await eventually(async () => (await readsOf(`/api/v2/deals/${shown.id}`)) === 1 && (await readsOf('/api/v1/users/me')) === 1, 'the page to read the deal and the role');
    // A user's pages read one deal at a time: this one starts nothing while the first read is under way.
    await openPage(panelOf(second.id));
    const [settings, contracts] = await Promise.all([s.api(a.companyId, user.id, '/api/settings'), s.api(a.companyId, user.id, `/api/deals/${shown.id}/contracts`)]);
    expect([settings.status, (await settings.json()).canEdit]).toEqual([200, false]);
    expect([contracts.status, await contracts.json()]).toEqual([200, { contracts: [] }]);
    expect([await readsOf(`/api/v2/deals/${shown.id}`), await readsOf('/api/v1/users/me')]).toEqual([1, 1]);

    await openPage(panelOf(hidden.id));
    await eventually(async () => (await readsOf(`/api/v2/deals/${hidden.id}`)) === 1, 'the page to read the hidden deal');
    const notVisible = [403, { error: { code: 'deal_not_visible', message: 'Pipedrive does not show you this deal' } }];
    const refused = await s.api(a.companyId, user.id, `/api/deals/${hidden.id}/contracts`);
    expect([refused.status, await refused.json()]).toEqual(notVisible);
    const readsBefore = await readsOf(`/api/v2/deals/${hidden.id}`);
    const again = await s.api(a.companyId, user.id, `/api/deals/${hidden.id}/contracts`);
    expect([again.status, await again.json()]).toEqual(notVisible);
    expect(await readsOf(`/api/v2/deals/${hidden.id}`)).toBe(readsBefore + 1);

    // Pages without a deal id ask Pipedrive for no deal, and find the role remembered; once the last page's read has
    // arrived, any read those pages started would have too.
    for (const selectedIds of ['', '0', 'abc', '9007199254740993']) await openPage(`/panel?selectedIds=${selectedIds}`);
    await openPage('/settings');
    await openPage(panelOf(last.id));
    await eventually(async () => (await readsOf(`/api/v2/deals/${last.id}`)) === 1, 'the last page to read its deal');
    const dealsRead = new Set((await reads()).filter((read) => read.startsWith('/api/v2/deals/')));
    expect(dealsRead).toEqual(new Set([shown.id, hidden.id, last.id].map((id) => `/api/v2/deals/${id}`)));
    expect(await readsOf('/api/v1/users/me')).toBe(1);
  });

  it('refuses ids no deal or contract can have (0, above 2^53, not a number) with 400, before asking Pipedrive', async () => {
    await s.sim('/requests', { method: 'DELETE' });
    for (const bad of ['0', '9007199254740993', '99999999999999999999', '-1', '1e3']) {
      for (const [method, path] of [
        ['GET', `/api/deals/${bad}/contracts`],
        ['GET', `/api/deals/${bad}/signers`],
        ['POST', `/api/contracts/${bad}/void`],
        ['POST', `/api/contracts/${bad}/retry`],
        ['GET', `/api/contracts/${bad}/files/completed`],
      ]) {
        const response = await s.api(a.companyId, a.userId, path, { method, body: method === 'POST' ? {} : undefined });
        expect({ path, status: response.status }).toEqual({ path, status: 400 });
      }
    }
    const reads = (await (await s.sim('/requests?method=GET')).json()) as Array<{ path: string }>;
    expect(reads.filter((read) => read.path.includes('/deals/'))).toEqual([]);
  });

  it('streams a completed contract’s PDFs to its own company, through the API or a short-lived signed link', async () => {
    const token = s.panelToken(a.companyId, a.userId);
    for (const kind of ['completed', 'audit_trail']) {
      const response = await get(`/api/contracts/${completed.id}/files/${kind}`, token);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/pdf');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(Buffer.from(await response.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
    }
    expect((await get(`/api/contracts/${completed.id}/files/original`, token)).status).toBe(404);
    expect((await get(`/api/contracts/${waiting.id}/files/completed`, token)).status).toBe(404);
    expect(waiting.downloads).toEqual([]);

    expect(completed.downloads.map((link) => link.kind)).toEqual(['completed', 'audit_trail']);
    const link = completed.downloads[0].url;
    const viaLink = await get(link);
    expect(viaLink.status).toBe(200);
    expect(viaLink.headers.get('content-type')).toBe('application/pdf');

    const signed = new URL(link, s.app.url).searchParams.get('token')!;
    const [body, mac] = signed.split('.');
    const altered = JSON.parse(Buffer.from(body, 'base64url').toString());
    altered.d.companyId = String(b.companyId);
    const forged = `${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${mac}`;
    // Only a browser tab opens these links, so an expired or forged one answers a short page saying what to do.
    const signer = s.app.app.get(SignedTokens);
    const expired = signer.sign('contract-file', JSON.parse(Buffer.from(body, 'base64url').toString()).d, -1);
    expect((await get(`/downloads/contract-file?token=${encodeURIComponent(signer.sign('contract-file', JSON.parse(Buffer.from(body, 'base64url').toString()).d, 60))}`)).status).toBe(200);
    for (const bad of [expired, forged, `${body}.${mac.slice(1)}x`, s.panelToken(a.companyId, a.userId), '']) {
      const response = await get(`/downloads/contract-file?token=${encodeURIComponent(bad)}`);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toContain('text/html');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const page = await response.text();
      expect(page).toContain('<h1>Download link expired</h1>');
      expect(page).toContain('Open the file again from the DottedSign panel of the deal in Pipedrive');
      expect(page).not.toContain('"error"');
    }
    expect((await get(`/downloads/contract-file`)).status).toBe(401);
    // A valid link to a file that cannot be served is a page too, with the API's status and message.
    const unfinished = signer.sign('contract-file', { ...JSON.parse(Buffer.from(body, 'base64url').toString()).d, contractId: String(waiting.id) }, 60);
    const notYet = await get(`/downloads/contract-file?token=${encodeURIComponent(unfinished)}`);
    expect(notYet.status).toBe(404);
    expect(notYet.headers.get('content-type')).toContain('text/html');
    expect(await notYet.text()).toContain('The files exist once every signer has signed');
  });

  it('suggests the deal’s contact as signer, or says why it cannot', async () => {
    const suggest = async (dealId: number) => (await s.api(a.companyId, a.userId, `/api/deals/${dealId}/signers`)).json();
    expect(await suggest(scenario.demo.dealId)).toEqual({
      state: 'ready',
      person: { id: scenario.demo.personWithEmailId, name: 'Pia Buyer', emails: ['pia@customer.test'] },
      signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }],
    });
    const noEmail = await scenario.addDeal({ title: 'No email', person_id: scenario.demo.personWithoutEmailId });
    expect(await suggest(noEmail.id)).toMatchObject({ state: 'no_email', person: { name: 'Nora Nomail', emails: [] }, signers: [] });
    const noContact = await scenario.addDeal({ title: 'Nobody' });
    expect(await suggest(noContact.id)).toEqual({ state: 'no_contact', person: null, signers: [] });
    const never = await s.api(a.companyId, a.userId, '/api/deals/987654/signers');
    expect([never.status, await never.json()]).toEqual([404, { error: { code: 'not_found', message: 'No such deal in Pipedrive' } }]);
  });

  it('a user whose Pipedrive authorization is gone reads no deal through an admin’s token: no contracts, no signer suggestion, and no send', async () => {
    const regular = scenario.demo.regularUserId;
    await s.install(regular);
    await scenario.db().query(`UPDATE installations SET invalid_reason = 'refresh token refused' WHERE company_id = $1 AND user_id = $2`, [a.companyId, regular]);
    try {
      const settingsOf = async (userId: number) => ((await (await s.api(a.companyId, userId, '/api/settings')).json()) as { pipedrive: unknown }).pipedrive;
      expect(await settingsOf(regular)).toEqual({ authorization: 'reinstall_required' });
      expect(await settingsOf(a.userId)).toEqual({ authorization: 'ok' });

      const reinstall = { error: { code: 'reinstall_required', message: 'Your Pipedrive authorization for the app is no longer valid. Reinstall the app.' } };
      const suggestion = await s.api(a.companyId, regular, `/api/deals/${scenario.demo.dealId}/signers`);
      expect(suggestion.status).toBe(403);
      expect(await suggestion.json()).toEqual(reinstall);
      const list = await s.api(a.companyId, regular, `/api/deals/${scenario.demo.dealId}/contracts`);
      expect([list.status, await list.json()]).toEqual([403, reinstall]);

      const tasksBefore = (await scenario.tasks()).length;
      const contractsBefore = (await scenario.contracts(scenario.demo.dealId)).length;
      const sent = await s.api(a.companyId, regular, `/api/deals/${scenario.demo.dealId}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
      expect([sent.status, await sent.json()]).toEqual([403, reinstall]);
      expect((await scenario.tasks()).length).toBe(tasksBefore);
      expect((await scenario.contracts(scenario.demo.dealId)).length).toBe(contractsBefore);
    } finally {
      await scenario.db().query(`UPDATE installations SET invalid_reason = NULL WHERE company_id = $1 AND user_id = $2`, [a.companyId, regular]);
    }
  });

  it('a user whose install is gone changes nothing from a panel polled a moment before: send and void refused at once', async () => {
    const regular = scenario.demo.regularUserId;
    await s.install(regular);
    const list = () => s.api(a.companyId, regular, `/api/deals/${scenario.demo.dealId}/contracts`);
    expect((await list()).status).toBe(200);
    await scenario.db().query('DELETE FROM installations WHERE company_id = $1 AND user_id = $2', [a.companyId, regular]);
    try {
      const notInstalled = { error: { code: 'forbidden', message: 'The app is not installed for this Pipedrive user' } };
      const tasksBefore = (await scenario.tasks()).length;
      const sent = await s.api(a.companyId, regular, `/api/deals/${scenario.demo.dealId}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
      expect([sent.status, await sent.json()]).toEqual([403, notInstalled]);
      const voided = await s.api(a.companyId, regular, `/api/contracts/${waiting.id}/void`, { method: 'POST', body: {} });
      expect([voided.status, await voided.json()]).toEqual([403, notInstalled]);
      expect((await scenario.tasks()).length).toBe(tasksBefore);
      expect((await scenario.contracts(scenario.demo.dealId)).find((contract) => contract.id === String(waiting.id))).toMatchObject({ status: 'waiting' });
    } finally {
      await s.install(regular);
    }
  });
});
