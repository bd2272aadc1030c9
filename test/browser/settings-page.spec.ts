import { join } from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import type { Sandbox } from '../support/sandbox';
import type { Scenario } from '../support/scenario';
import { type BrowserSandbox, startBrowserSandbox } from './support/browser-sandbox';
import { ARTIFACTS } from './support/chromium';
import type { HostPage } from './support/host-page';

declare const window: Window & { hostLog: { initialized: boolean; snackbars: string[] } };

describe('settings page in headless Chromium: read-only for non-admins, and a connection DottedSign refused', () => {
  let sandbox: BrowserSandbox;
  let s: Sandbox;
  let scenario: Scenario;
  let host: HostPage;
  let page: Page;
  let frame: FrameLocator;

  beforeAll(async () => {
    sandbox = await startBrowserSandbox({ width: 820, height: 1000 });
    ({ s, scenario, host, page, frame } = sandbox);
    await scenario.installAndConnect({ autoSend: { enabled: false } });
    await s.install(scenario.demo.regularUserId);
  });
  afterAll(() => sandbox?.close());

  async function openSettingsAs(userId: number) {
    await page.goto(host.url({ app: s.app.url, page: 'settings', companyId: scenario.demo.companyId, userId }));
    await page.waitForFunction(() => window.hostLog?.initialized, undefined, { timeout: 10000 });
    await frame.locator('form.settings-form').waitFor();
  }
  const enabledControls = () => frame.locator('form.settings-form').locator('input:enabled, select:enabled, button:enabled').count();

  it('shows a user who is not a Pipedrive admin the settings read-only, saying why, with no Save, Connect or Disconnect', async () => {
    await openSettingsAs(scenario.demo.regularUserId);
    await expect(frame.locator('[data-state="read_only"]').textContent()).resolves.toBe('Only a Pipedrive admin can change these settings.');
    await frame.locator('[data-state="connected"] .badge').waitFor();
    await expect(frame.locator('form.settings-form[data-read-only]').count()).resolves.toBe(1);
    await expect(frame.locator('form.settings-form input').count()).resolves.toBeGreaterThan(5);
    await expect(enabledControls()).resolves.toBe(0);
    await expect(frame.locator('button').count()).resolves.toBe(0);
    await page.locator('#extension').screenshot({ path: join(ARTIFACTS, 'settings-read-only.png') });

    // The same page for an admin stays editable.
    await openSettingsAs(scenario.demo.adminUserId);
    await expect(frame.locator('[data-state="read_only"]').count()).resolves.toBe(0);
    await expect(frame.locator('button[type="submit"]').isEnabled()).resolves.toBe(true);
    await expect(frame.locator('[data-action="disconnect"]').count()).resolves.toBe(1);
    await expect(enabledControls()).resolves.toBeGreaterThan(5);
  });

  it('warns when DottedSign refused the connection, and “Reconnect DottedSign” runs the OAuth connect that clears it', async () => {
    const { companyId, adminUserId, regularUserId } = scenario.demo;
    // DottedSign stops accepting the app's credentials: the next token refresh is refused for good.
    await scenario.db().query(`UPDATE esign_connections SET expires_at = now() - interval '1 hour' WHERE company_id = $1`, [companyId]);
    await s.dsim('/tokens/expire', { body: {} });
    await s.dsim('/faults', { body: { method: 'POST', path: '/v1/oauth/token', status: 400, count: 1000, body: { error_code: 400005, error_key: 'invalid_client', error_message: 'invalid client' } } });
    expect((await s.api(companyId, adminUserId, '/api/templates')).status).toBe(502);

    await openSettingsAs(regularUserId);
    await expect(frame.locator('[data-state="reconnect_required"] [role="alert"]').textContent()).resolves.toContain('Ask a Pipedrive admin to reconnect DottedSign');
    await expect(frame.locator('button').count()).resolves.toBe(0);

    await openSettingsAs(adminUserId);
    const warning = frame.locator('[data-state="reconnect_required"]');
    await expect(warning.locator('[role="alert"]').textContent()).resolves.toContain('DottedSign no longer accepts this connection');
    await expect(frame.locator('.badge.tone-ok').count()).resolves.toBe(0);
    await expect(frame.locator('select[name="templateId"] option').first().textContent()).resolves.toBe('Reconnect DottedSign to list templates');
    await page.locator('#extension').screenshot({ path: join(ARTIFACTS, 'settings-reconnect.png') });

    // The deal panel says the same and offers no Send until DottedSign is reconnected.
    await page.goto(host.url({ app: s.app.url, page: 'panel', companyId, userId: adminUserId, dealId: scenario.demo.dealId }));
    await expect(frame.locator('[data-state="reconnect_required"]').textContent()).resolves.toContain('Reconnect it in the app settings');
    await expect(frame.locator('[data-action="open-send"]').isDisabled()).resolves.toBe(true);
    await openSettingsAs(adminUserId);

    await s.dsim('/faults', { method: 'DELETE' });
    const popupOpened = page.context().waitForEvent('page');
    await warning.locator('[data-action="reconnect"]').click();
    const popup = await popupOpened;
    await popup.locator('[data-testid="allow"]').click();
    await popup.waitForURL(/\/auth\/dottedsign\/callback/);
    await expect(popup.locator('body').textContent()).resolves.toContain('is now connected');
    await popup.close();

    // Back on the settings page (the window gets focus again) it shows the working connection.
    await page.frame({ url: /\/settings\?/ })!.evaluate(() => window.dispatchEvent(new Event('focus')));
    await frame.locator('[data-state="connected"] .badge.tone-ok').waitFor();
    await expect(frame.locator('[data-state="reconnect_required"]').count()).resolves.toBe(0);
    await frame.locator('select[name="templateId"]:enabled').waitFor();
    expect(((await (await s.api(companyId, adminUserId, '/api/settings')).json()) as { dottedsign: unknown }).dottedsign).toMatchObject({ connected: true, status: 'ok', mode: 'oauth' });
  });

  it('says so when a connected account\'s templates could not be loaded (not "connect DottedSign"), and loads them again on request', async () => {
    await s.dsim('/faults', { body: { method: 'GET', path: '/v1/templates/list', status: 503, count: 2, body: { error_code: 500000, error_key: 'internal_error', error_message: 'busy' } } });
    await openSettingsAs(scenario.demo.adminUserId);
    await frame.locator('[data-state="connected"] .badge.tone-ok').waitFor();
    await expect(frame.locator('select[name="templateId"] option').first().textContent()).resolves.toBe('The templates could not be loaded');

    await frame.locator('[data-action="reload-templates"]').click();
    // The list is enabled once the templates are read. Counting options cannot tell: the failed list has two already
    // (its notice and the saved template).
    await frame.locator('select[name="templateId"]:enabled').waitFor();
    await expect(frame.locator('select[name="templateId"] option').count()).resolves.toBeGreaterThan(1);
    await expect(frame.locator('[data-action="reload-templates"]').count()).resolves.toBe(0);
  });

  it('tells a user whose Pipedrive authorization is gone to install the app again, in the settings and in the panel (no contracts, no Send)', async () => {
    const { companyId, regularUserId, adminUserId } = scenario.demo;
    await scenario.db().query(`UPDATE installations SET invalid_reason = 'refresh token refused' WHERE company_id = $1 AND user_id = $2`, [companyId, adminUserId]);
    try {
      // An admin among them: the page is read-only (a save would be refused), saying to install again, not "only an admin".
      await openSettingsAs(adminUserId);
      await expect(frame.locator('[data-state="reinstall_required"]').textContent()).resolves.toContain('Install the app again');
      await expect(frame.locator('[data-state="read_only"]').count()).resolves.toBe(0);
      await frame.locator('form.settings-form[data-read-only]').waitFor();
      await expect(frame.locator('button[type="submit"]').count()).resolves.toBe(0);
    } finally {
      await scenario.db().query(`UPDATE installations SET invalid_reason = NULL WHERE company_id = $1 AND user_id = $2`, [companyId, adminUserId]);
    }
    await scenario.db().query(`UPDATE installations SET invalid_reason = 'refresh token refused' WHERE company_id = $1 AND user_id = $2`, [companyId, regularUserId]);
    try {
      await openSettingsAs(regularUserId);
      await expect(frame.locator('[data-state="reinstall_required"]').textContent()).resolves.toContain('Install the app again');
      await page.goto(host.url({ app: s.app.url, page: 'panel', companyId, userId: regularUserId, dealId: scenario.demo.dealId }));
      await expect(frame.locator('[data-state="reinstall_required"]').textContent()).resolves.toContain('Install the app again');
      await expect(frame.locator('article.contract').count()).resolves.toBe(0);
      await expect(frame.locator('[data-action="open-send"]').count()).resolves.toBe(0);
    } finally {
      await scenario.db().query(`UPDATE installations SET invalid_reason = NULL WHERE company_id = $1 AND user_id = $2`, [companyId, regularUserId]);
    }
  });
});
