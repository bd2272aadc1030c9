import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { freeLoopbackPort } from '../../src/database/embedded-postgres.launcher';
import { type AppProcess, ROOT, postgresRunningIn, startAppProcess } from '../support/app-process';
import { scratchDir } from '../support/scratch-dir';
import { eventually } from '../support/test-app';

const ARTIFACTS = join(ROOT, 'test', 'artifacts');

/** The console URL the app prints once it is ready; a start that ends or stalls first fails with what the app printed. */
async function consoleUrlOf(app: AppProcess): Promise<string> {
  try {
    return await eventually(async () => {
      if (app.child.exitCode !== null) throw new Error(`the app exited (${app.child.exitCode}) before printing the console URL`);
      return app.output().match(/Open the sandbox console:\s+(http\S+)/)?.[1];
    }, 'the console URL to be printed', 90000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; the app printed:\n${app.output().slice(-4000)}`);
  }
}

describe('npm start with no accounts (sandbox mode)', () => {
  let app: AppProcess | undefined;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
    if (app?.child.exitCode === null) app.interrupt();
  });

  it('prints one console URL where adding a deal, signing it and seeing the deal won with the PDF all work, and Ctrl-C leaves nothing behind', async () => {
    const dataDir = scratchDir('sandbox');
    app = startAppProcess({ DATA_DIR: dataDir, PORT: String(await freeLoopbackPort()) });
    const started = app;
    const consoleUrl = await consoleUrlOf(started);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(consoleUrl);
    await page.getByTestId('deal-title').fill('Globex annual plan');
    await page.getByTestId('deal-person').selectOption({ label: 'Pia Buyer <pia@customer.test>' });
    await page.getByTestId('add-deal').click();
    await page.waitForFunction(() => /^#\/deal\/\d+$/.test(location.hash));

    // The app's panel, in its iframe, shows the contract the deal.create webhook sent.
    const panel = page.frameLocator('[data-testid=panel-frame]');
    await panel.getByText(/pia@customer\.test/).first().waitFor({ timeout: 20000 });

    const link = page.getByTestId('signing-link').getByRole('link');
    await link.first().waitFor({ timeout: 20000 });
    const signingPage = await browser.newPage();
    await signingPage.goto((await link.first().getAttribute('href'))!);
    await signingPage.getByTestId('sign').click();
    await signingPage.getByTestId('task-status').filter({ hasText: 'completed' }).waitFor();
    await signingPage.close();

    // Live, without a reload: the deal is won with both PDFs and a note, and the panel says completed.
    await page.getByTestId('deal-badge').filter({ hasText: 'won' }).waitFor({ timeout: 20000 });
    await page.getByTestId('deal-files').filter({ hasText: 'signed' }).filter({ hasText: 'audit trail' }).waitFor({ timeout: 20000 });
    await page.getByTestId('deal-notes').filter({ hasText: 'was signed by Pia Buyer' }).waitFor({ timeout: 20000 });
    await panel.getByText(/completed/i).first().waitFor({ timeout: 20000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'sandbox-console.png') });

    started.interrupt();
    expect(await started.exited).toBe(0);
    expect(postgresRunningIn(dataDir)).toBe(false);
    await expect(fetch(consoleUrl)).rejects.toThrow();
  }, 180000);

  it('with DOTTEDSIGN_APP_ACCOUNT=false, the demo company is only installed and its admin connects DottedSign through the simulator\'s approval page', async () => {
    const dataDir = scratchDir('sandbox');
    app = startAppProcess({ DATA_DIR: dataDir, PORT: String(await freeLoopbackPort()), DOTTEDSIGN_APP_ACCOUNT: 'false' });
    const started = app;
    const consoleUrl = await consoleUrlOf(started);
    // Logged just before the URL is printed, through the logger's own (asynchronous) stream.
    await eventually(async () => started.output().includes('connect DottedSign from the app settings'), 'the set-up to say DottedSign is left to the settings', 10000);

    browser ??= await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await page.goto(`${consoleUrl}#/settings`);
    const settings = page.frameLocator('[data-testid=settings-frame]');
    await expect(settings.locator('[data-action="connect-app-account"]').count()).resolves.toBe(0);
    const popupOpened = page.context().waitForEvent('page');
    await settings.locator('[data-action="connect"]').click();
    const popup = await popupOpened;
    await popup.locator('[data-testid="allow"]').click();
    await popup.waitForURL(/\/auth\/dottedsign\/callback/);
    await expect(popup.locator('body').textContent()).resolves.toContain('is now connected');

    started.interrupt();
    expect(await started.exited).toBe(0);
  }, 180000);
});
