import { join } from 'node:path';
import type { FrameLocator, Page, Route } from 'playwright-core';
import { SignedTokens } from '../../src/common/signed-tokens';
import type { Sandbox } from '../support/sandbox';
import type { Scenario } from '../support/scenario';
import { eventually } from '../support/test-app';
import { type BrowserSandbox, startBrowserSandbox } from './support/browser-sandbox';
import { ARTIFACTS } from './support/chromium';
import type { HostPage } from './support/host-page';

interface HostLog {
  initialized: boolean;
  commands: string[];
  snackbars: string[];
  redirects: Array<{ view: string }>;
  resizes: number[];
  confirmations: Array<{ title: string }>;
}

declare const window: Window & { hostLog: HostLog; confirmAnswer: boolean; extension: { setVisible(visible: boolean): void }; setTheme(theme: string): void; reloadMarker?: number };

describe('deal panel and settings page in headless Chromium, inside a page playing Pipedrive (app + both simulators)', () => {
  let sandbox: BrowserSandbox;
  let s: Sandbox;
  let scenario: Scenario;
  let host: HostPage;
  let page: Page;
  let frame: FrameLocator;
  let templateId: number;

  beforeAll(async () => {
    sandbox = await startBrowserSandbox({ width: 420, height: 1000 });
    ({ s, scenario, host, page, frame } = sandbox);
  });
  afterAll(() => sandbox?.close());

  const admin = () => ({ companyId: scenario.demo.companyId, userId: scenario.demo.adminUserId });

  async function open(pageName: 'panel' | 'settings', dealId?: number, theme: 'light' | 'dark' = 'light') {
    await page.setViewportSize(pageName === 'settings' ? { width: 820, height: 1000 } : { width: 420, height: 1000 });
    await page.goto(host.url({ app: s.app.url, page: pageName, ...admin(), dealId, theme }));
    await page.waitForFunction(() => window.hostLog?.initialized, undefined, { timeout: 10000 });
  }

  const hostLog = () => page.evaluate(() => window.hostLog);
  /** Waits until `count` snackbars containing `text` were shown; a timeout names the ones that were. */
  const snackbar = async (text: string, count = 1) => {
    try {
      return await eventually(async () => (await hostLog()).snackbars.filter((message) => message.includes(text)).length >= count || undefined, `snackbar "${text}" (${count})`);
    } catch (error) {
      throw new Error(`${(error as Error).message}; shown: ${JSON.stringify((await hostLog()).snackbars)}`);
    }
  };
  const card = (index = 0) => frame.locator('article.contract').nth(index);
  const badge = (index = 0) => card(index).locator('.contract-head .badge');

  async function connectDottedSign() {
    expect((await s.api(admin().companyId, admin().userId, '/api/dottedsign/connect-app-account', { method: 'POST', body: {} })).status).toBe(200);
    const { templates } = (await (await s.api(admin().companyId, admin().userId, '/api/templates')).json()) as { templates: Array<{ id: number }> };
    templateId = templates[0].id;
    const saved = await s.api(admin().companyId, admin().userId, '/api/settings', { method: 'PUT', body: { templateId, autoSend: { enabled: false } } });
    expect(saved.status).toBe(200);
  }

  it('initialises the SDK, sizes itself within 100–750 px, and without DottedSign leads to the settings page', async () => {
    await s.install(scenario.demo.adminUserId);
    await open('panel', scenario.demo.dealId);

    await frame.locator('[data-state="not_connected"]').waitFor();
    await expect(frame.locator('[data-action="open-send"]').isDisabled()).resolves.toBe(true);
    await frame.locator('[data-action="open-settings"]').click();
    await eventually(async () => (await hostLog()).redirects.length > 0, 'REDIRECT_TO');

    const log = await hostLog();
    expect(log.commands[0]).toBe('initialize');
    expect(log.redirects).toEqual([expect.objectContaining({ view: 'settings' })]);
    expect(log.resizes.length).toBeGreaterThan(0);
    expect(log.resizes.every((height) => height >= 100 && height <= 750)).toBe(true);
    expect(log.commands).toContain('get_signed_token');
  });

  it('sends a contract from the panel: signers prefilled from the deal’s contact, editable, checked before sending', async () => {
    await connectDottedSign();
    await open('panel', scenario.demo.dealId);
    await frame.locator('.empty').waitFor();
    await frame.locator('[data-action="open-send"]').click();

    const form = frame.locator('form.send-form');
    await expect(form.locator('select[name="templateId"]').inputValue()).resolves.toBe(String(templateId));
    await expect(form.locator('input[name="name"]').first().inputValue()).resolves.toBe('Pia Buyer');
    await expect(form.locator('input[name="email"]').first().inputValue()).resolves.toBe('pia@customer.test');

    await form.locator('.add-signer').click();
    await form.locator('input[name="name"]').nth(1).fill('Bob Second');
    await form.locator('input[name="email"]').nth(1).fill('bob@');
    await form.locator('button[type="submit"]').click();
    await expect(form.locator('.signer-input').nth(1).locator('.field-error').textContent()).resolves.toContain('not a valid address');
    await expect(form.locator('input[name="email"]').nth(1).evaluate((input) => input === document.activeElement)).resolves.toBe(true);
    expect(await scenario.tasksForDeal(scenario.demo.dealId)).toEqual([]);

    await form.locator('input[name="email"]').nth(1).fill('bob@customer.test');
    await form.locator('input[name="ordered"]').check();
    await form.locator('button[type="submit"]').click();
    await snackbar('Contract sent to pia@customer.test, bob@customer.test');

    await card().locator('.contract-head [data-status="waiting"]').waitFor();
    await expect(card().locator('.signer').count()).resolves.toBe(2);
    await expect(form.count()).resolves.toBe(0);
    const tasks = await scenario.tasksForDeal(scenario.demo.dealId);
    expect(tasks).toHaveLength(1);
    expect(tasks[0].status).toBe('waiting');
    expect(JSON.stringify(tasks[0])).toContain('bob@customer.test');
  });

  it('turns the status to completed without a reload when the signers sign in DottedSign, with links to both PDFs', async () => {
    const [task] = await scenario.tasksForDeal(scenario.demo.dealId);
    await page.frame({ url: /\/panel\?/ })!.evaluate(() => (window.reloadMarker = 1));
    for (const email of ['pia@customer.test', 'bob@customer.test']) {
      expect((await s.dsim(`/tasks/${task.task_id}/sign`, { body: { email } })).status).toBe(200);
    }

    await card().locator('.contract-head [data-status="completed"]').waitFor({ timeout: 20000 });
    expect(await page.frame({ url: /\/panel\?/ })!.evaluate(() => window.reloadMarker)).toBe(1);
    // Screen readers hear what changed, not the whole panel again.
    await expect(frame.locator('p.visually-hidden[role="status"]').textContent()).resolves.toMatch(/: Completed\.$/);
    await expect(frame.locator('main#app').getAttribute('aria-live')).resolves.toBeNull();
    await expect(card().locator('[data-signer-status="signed"]').count()).resolves.toBe(2);

    for (const kind of ['completed', 'audit_trail']) {
      const href = await card().locator(`a[data-file="${kind}"]`).getAttribute('href');
      const response = await fetch(new URL(href!, s.app.url));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/pdf');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(Buffer.from(await response.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
    }
  });

  it('keeps the PDF links working after the first ones expire: each poll puts the freshest signed link into the card in place', async () => {
    const contractsPath = `/api/deals/${scenario.demo.dealId}/contracts`;
    const signer = s.app.app.get(SignedTokens);
    /** The same link, signed so that it expired a second ago: what a link rendered 10+ minutes ago has become. */
    const expire = (url: string) => {
      const data = signer.verify<Record<string, unknown>>('contract-file', new URL(url, s.app.url).searchParams.get('token')!);
      return `/downloads/contract-file?token=${signer.sign('contract-file', data!, -1)}`;
    };
    type Answer = { contracts: Array<{ id: number; downloads: Array<{ kind: string; url: string }> }> };
    const answers: Answer[] = [];
    const intercept = async (route: Route) => {
      if (route.request().method() !== 'GET') return route.fallback();
      const response = await route.fetch();
      if (!response.ok()) return route.fulfill({ response });
      const answer = (await response.json()) as Answer;
      if (!answers.length) for (const contract of answer.contracts) for (const file of contract.downloads) file.url = expire(file.url);
      answers.push(answer);
      await route.fulfill({ response, json: answer });
    };
    const isContracts = (url: URL) => url.pathname === contractsPath;
    await page.route(isContracts, intercept);
    try {
      await open('panel', scenario.demo.dealId);
      await card().locator('.contract-head [data-status="completed"]').waitFor();
      const hrefs = () => Promise.all(['completed', 'audit_trail'].map((kind) => card().locator(`a[data-file="${kind}"]`).getAttribute('href')));
      const first = await hrefs();
      const latest = (answer: Answer) => answer.contracts[0].downloads.map((file) => file.url);
      expect(first).toEqual(latest(answers[0]));

      // The first links are dead now, and a browser tab opening one gets a page saying what to do, not JSON.
      const tab = await sandbox.browser.newPage();
      try {
        const dead = await tab.goto(new URL(first[0]!, s.app.url).href);
        expect(dead?.status()).toBe(401);
        await expect(tab.locator('h1').textContent()).resolves.toBe('Download link expired');
        await expect(tab.locator('body').textContent()).resolves.toContain('Open the file again from the DottedSign panel of the deal in Pipedrive');
      } finally {
        await tab.close();
      }

      // The card stays the same element with its timeline open; only the links change.
      await card().locator('summary').click();
      await card().evaluate((article) => article.setAttribute('data-test-same-card', 'yes'));

      const polled = answers.length;
      await eventually(async () => {
        if (answers.length <= polled) return false;
        const shown = await hrefs();
        return JSON.stringify(shown) === JSON.stringify(latest(answers[answers.length - 1]));
      }, 'the links of the latest poll in the card', 3 * 4000 + 2000);
      const fresh = await hrefs();
      expect(fresh).not.toEqual(first);
      await expect(card().getAttribute('data-test-same-card')).resolves.toBe('yes');
      await expect(card().locator('details.timeline').evaluate((details) => (details as HTMLDetailsElement).open)).resolves.toBe(true);

      for (const href of fresh) {
        const response = await fetch(new URL(href!, s.app.url));
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('application/pdf');
        expect(Buffer.from(await response.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
      }
    } finally {
      await page.unroute(isContracts, intercept);
    }
  });

  it('voids a contract only after the user confirms', async () => {
    await frame.locator('[data-action="open-send"]').click();
    await frame.locator('form.send-form button[type="submit"]').click();
    await snackbar('Contract sent to pia@customer.test');
    await card(0).locator('.contract-head [data-status="waiting"]').waitFor();
    await expect(badge(1).getAttribute('data-status')).resolves.toBe('completed');

    // Sending again would make a second contract for the deal: the form says so before anything is sent.
    await frame.locator('[data-action="open-send"]').click();
    await expect(frame.locator('form.send-form [data-state="open_contract"]').textContent()).resolves.toContain('already has a contract being sent or out for signature');
    await frame.locator('form.send-form button', { hasText: 'Cancel' }).click();
    await expect(frame.locator('form.send-form').count()).resolves.toBe(0);

    await page.evaluate(() => (window.confirmAnswer = false));
    await card(0).locator('[data-action="void"]').click();
    await eventually(async () => (await hostLog()).confirmations.length === 1, 'the confirmation');
    await expect(badge(0).getAttribute('data-status')).resolves.toBe('waiting');

    // DottedSign takes a moment: the button says so and takes no second click meanwhile.
    await s.dsim('/faults', { body: { method: 'POST', path: '/v1/sign_tasks/void', latencyMs: 2500, count: 1 } });
    await page.evaluate(() => (window.confirmAnswer = true));
    await card(0).locator('[data-action="void"]').click();
    const voidButton = card(0).locator('[data-action="void"]');
    await expect(voidButton.textContent()).resolves.toBe('Voiding…');
    await expect(voidButton.isDisabled()).resolves.toBe(true);
    await snackbar('Contract voided');
    expect((await hostLog()).confirmations).toHaveLength(2);
    await card(0).locator('.contract-head [data-status="voided"]').waitFor();
    const statuses = (await scenario.tasksForDeal(scenario.demo.dealId)).map((task) => task.status).sort();
    expect(statuses).toEqual(['completed', 'voided']);
  });

  it('stops polling while Pipedrive hides the panel and refreshes as soon as it is shown again', async () => {
    const polls: number[] = [];
    const count = (request: { url(): string }) => {
      if (request.url().includes(`/api/deals/${scenario.demo.dealId}/contracts`)) polls.push(Date.now());
    };
    page.on('request', count);
    try {
      await page.evaluate(() => window.extension.setVisible(false));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const before = polls.length;
      await new Promise((resolve) => setTimeout(resolve, 5000));
      expect(polls.length).toBe(before);
      await page.evaluate(() => window.extension.setVisible(true));
      await eventually(async () => polls.length > before, 'a refresh after showing the panel', 2000);
    } finally {
      page.off('request', count);
    }
  });

  it('follows a DottedSign connection changed while it was out of view: Send, the notice and the templates as soon as it is shown again', async () => {
    const connection = (method: string, path: string) => s.api(admin().companyId, admin().userId, path, { method, body: method === 'POST' ? {} : undefined });
    const send = frame.locator('[data-action="open-send"]');
    await open('panel', scenario.demo.dealId);
    await expect(send.isDisabled()).resolves.toBe(false);
    try {
      expect((await connection('DELETE', '/api/dottedsign/connection')).status).toBe(200);
      expect((await s.dsim('/templates', { body: { name: 'Offered after reconnecting' } })).status).toBe(201);
      await page.evaluate(() => window.extension.setVisible(false));
      await page.evaluate(() => window.extension.setVisible(true));
      await frame.locator('[data-state="not_connected"]').waitFor();
      await expect(send.isDisabled()).resolves.toBe(true);
    } finally {
      expect((await connection('POST', '/api/dottedsign/connect-app-account')).status).toBe(200);
    }
    await page.evaluate(() => window.extension.setVisible(false));
    await page.evaluate(() => window.extension.setVisible(true));
    await frame.locator('[data-state="not_connected"]').waitFor({ state: 'detached' });
    await expect(send.isDisabled()).resolves.toBe(false);
    await send.click();
    await frame.locator('form select').waitFor();
    await expect(frame.locator('form select option').allTextContents()).resolves.toContain('Offered after reconnecting');
    await frame.locator('form button', { hasText: 'Cancel' }).click();
  });

  it('follows the theme, and looks finished in light and dark (screenshots in test/artifacts)', async () => {
    await open('panel', scenario.demo.dealId, 'light');
    await badge(1).waitFor();
    await card(1).locator('summary').click();
    await page.waitForTimeout(150);
    await page.locator('#extension').screenshot({ path: join(ARTIFACTS, 'panel-light.png') });

    await page.evaluate(() => window.setTheme('dark'));
    await frame.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
    const colors = await page.frame({ url: /\/panel\?/ })!.evaluate(() => {
      const style = getComputedStyle(document.querySelector('[data-status="completed"]')!);
      return { background: getComputedStyle(document.body).backgroundColor, badge: style.color, badgeBackground: style.backgroundColor };
    });
    expect(colors.background).not.toBe('rgb(255, 255, 255)');
    expect(colors.badge).not.toBe(colors.badgeBackground);
    await page.locator('#extension').screenshot({ path: join(ARTIFACTS, 'panel-dark.png') });

    await frame.locator('[data-action="open-send"]').click();
    await frame.locator('form.send-form').waitFor();
    await page.locator('#extension').screenshot({ path: join(ARTIFACTS, 'panel-send-form-dark.png') });
    await open('panel', scenario.demo.dealId, 'dark');
    await expect(frame.locator('html').getAttribute('data-theme')).resolves.toBe('dark');
  });

  it('tells the user when the deal’s contact has no email address', async () => {
    const deal = await scenario.addDeal({ title: 'No email deal', person_id: scenario.demo.personWithoutEmailId });
    await open('panel', deal.id);
    await frame.locator('.empty').waitFor();
    await frame.locator('[data-action="open-send"]').click();
    await expect(frame.locator('[data-state="no_email"]').textContent()).resolves.toContain('Nora Nomail has no email address');
    await expect(frame.locator('input[name="name"]').inputValue()).resolves.toBe('Nora Nomail');
    await expect(frame.locator('input[name="email"]').inputValue()).resolves.toBe('');
  });

  it('sending again after the answer was lost (the contract went out) shows that contract and sends no second one', async () => {
    const deal = await scenario.addDeal({ title: 'Flaky network deal', person_id: scenario.demo.personWithEmailId });
    const sendPath = `/api/deals/${deal.id}/contracts`;
    const sent: Array<{ requestId: string }> = [];
    const firstAnswer: { status?: number; error?: string } = {};
    // The first send reaches the app, which sends the contract; its answer never reaches the panel.
    const loseFirstAnswer = async (route: Route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      sent.push(route.request().postDataJSON() as { requestId: string });
      if (sent.length > 1) return route.fallback();
      try {
        firstAnswer.status = (await route.fetch()).status();
      } catch (error) {
        firstAnswer.error = (error as Error).message;
      }
      return route.abort('failed');
    };
    await page.route(`**${sendPath}`, loseFirstAnswer);
    try {
      await open('panel', deal.id);
      await frame.locator('.empty').waitFor();
      await frame.locator('[data-action="open-send"]').click();
      const form = frame.locator('form.send-form');
      await expect(form.locator('input[name="email"]').first().inputValue()).resolves.toBe('pia@customer.test');
      // From the keyboard: the panel grows as the form opens, and a click aimed while it resizes can miss the button.
      await form.locator('button[type="submit"]').press('Enter');
      await eventually(async () => sent.length > 0 || undefined, 'the first send to reach the app');
      await eventually(async () => firstAnswer.status ?? firstAnswer.error, 'the app to answer the first send');
      expect(firstAnswer).toEqual({ status: 201 });
      await snackbar('Could not reach the DottedSign app');
      await form.locator('button[type="submit"]:enabled').waitFor();
      await form.locator('button[type="submit"]').click();
      await snackbar('Contract sent to pia@customer.test');
    } finally {
      await page.unroute(`**${sendPath}`, loseFirstAnswer);
    }

    expect(sent).toHaveLength(2);
    expect(sent[1].requestId).toBe(sent[0].requestId);
    await card().locator('.contract-head [data-status="waiting"]').waitFor();
    await expect(frame.locator('article.contract').count()).resolves.toBe(1);
    expect(await scenario.contracts(deal.id)).toHaveLength(1);
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
  });

  it('a token the server finds expired, though it looks fresh to the browser, is replaced once and the panel works as usual', async () => {
    sandbox.handOutExpiredTokens(1);
    await open('panel', scenario.demo.dealId);
    await card().locator('.contract-head .badge').waitFor();
    const log = await hostLog();
    expect(log.commands.filter((command) => command === 'get_signed_token').length).toBeGreaterThanOrEqual(2);
    expect(log.snackbars.filter((message) => /token|refresh/i.test(message))).toEqual([]);
    await expect(frame.locator('[data-state="load_error"]').count()).resolves.toBe(0);
  });

  it('a deal Pipedrive hides from the user shows why, and none of its contracts', async () => {
    const regular = scenario.demo.regularUserId;
    await s.install(regular);
    const hidden = await scenario.addDeal({ title: 'Owner only deal', owner_id: scenario.demo.adminUserId, visible_to: 1, person_id: scenario.demo.personWithEmailId });
    expect((await s.api(admin().companyId, admin().userId, `/api/deals/${hidden.id}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } })).status).toBe(201);
    await page.goto(host.url({ app: s.app.url, page: 'panel', companyId: admin().companyId, userId: regular, dealId: hidden.id, theme: 'light' }));
    await page.waitForFunction(() => window.hostLog?.initialized, undefined, { timeout: 10000 });
    await expect(frame.locator('[data-state="deal_not_visible"]').textContent()).resolves.toContain('Pipedrive does not show you this deal');
    await expect(frame.locator('article.contract').count()).resolves.toBe(0);
    await expect(frame.locator('[data-action="open-send"]').count()).resolves.toBe(0);
  });

  it('settings page: shows the connected account, checks fields next to them, saves through the API', async () => {
    const { dottedsign } = (await (await s.api(admin().companyId, admin().userId, '/api/settings')).json()) as { dottedsign: { account: string | null } };
    await open('settings');
    await expect(frame.locator('.account').textContent()).resolves.toBe(dottedsign.account ?? 'DottedSign account (no email shared)');
    await expect(frame.locator('select[name="templateId"]').inputValue()).resolves.toBe(String(templateId));
    await page.locator('#extension').screenshot({ path: join(ARTIFACTS, 'settings-light.png') });

    await frame.locator('input[name="onCompleted.action"][value="stage"]').check();
    await frame.locator('input[name="autoSend.enabled"]').check();
    await frame.locator('input[name="autoSend.pipelineIds"]').fill('1, first');
    await frame.locator('button[type="submit"]').click();
    await expect(frame.locator('[data-error-for="onCompleted.stageId"]').textContent()).resolves.toContain('stage');
    await expect(frame.locator('[data-error-for="autoSend.pipelineIds"]').textContent()).resolves.toContain('pipeline ids');
    await expect(frame.locator('[data-error-for="autoSend.pipelineIds"]').getAttribute('role')).resolves.toBe('alert');
    await expect(frame.locator('input[name="autoSend.pipelineIds"]').evaluate((input) => input === document.activeElement)).resolves.toBe(true);

    await frame.locator('input[name="onCompleted.stageId"]').fill(String(scenario.demo.stageIds[2]));
    await frame.locator('input[name="autoSend.pipelineIds"]').fill(String(scenario.demo.pipelineId));
    await frame.locator('input[name="writeNotes"]').uncheck();
    await frame.locator('button[type="submit"]').click();
    await snackbar('Settings saved');
    const stored = await (await s.api(admin().companyId, admin().userId, '/api/settings')).json();
    expect(stored).toMatchObject({
      templateId,
      autoSend: { enabled: true, pipelineIds: [scenario.demo.pipelineId] },
      onCompleted: { action: 'stage', stageId: scenario.demo.stageIds[2] },
      writeNotes: false,
    });

    // A second change on the same page is saved too (the page keeps the version its first save returned).
    await frame.locator('input[name="writeNotes"]').check();
    await frame.locator('button[type="submit"]').click();
    await snackbar('Settings saved', 2);
    await expect(frame.locator('form.settings-form .field-error:not(:empty)').count()).resolves.toBe(0);
    await expect((await s.api(admin().companyId, admin().userId, '/api/settings')).json()).resolves.toMatchObject({ writeNotes: true, onCompleted: { action: 'stage' } });

    await open('settings', undefined, 'dark');
    await page.locator('#extension').screenshot({ path: join(ARTIFACTS, 'settings-dark.png') });
  });

  it('settings page: a regular user sees the settings read-only and why, and disconnecting needs confirmation', async () => {
    await s.install(scenario.demo.regularUserId);
    await page.goto(host.url({ app: s.app.url, page: 'settings', companyId: scenario.demo.companyId, userId: scenario.demo.regularUserId }));
    await frame.locator('form.settings-form[data-read-only]').waitFor();
    await expect(frame.locator('[data-state="read_only"]').textContent()).resolves.toContain('Only a Pipedrive admin');
    await expect(frame.locator('button[type="submit"]').count()).resolves.toBe(0);

    await open('settings');
    await page.evaluate(() => (window.confirmAnswer = true));
    await frame.locator('[data-action="disconnect"]').click();
    await snackbar('DottedSign disconnected');
    await frame.locator('[data-state="not_connected"] [data-action="connect"]').waitFor();
  });
});
