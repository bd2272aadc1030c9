import type { Browser, FrameLocator, Page } from 'playwright-core';
import { type Sandbox, startSandbox } from '../../support/sandbox';
import { Scenario } from '../../support/scenario';
import { launchChromium } from './chromium';
import { type HostPage, startHostPage } from './host-page';

/** The app and both simulators, a page playing Pipedrive that frames the app, and Chromium showing it. */
export interface BrowserSandbox {
  s: Sandbox;
  scenario: Scenario;
  host: HostPage;
  browser: Browser;
  page: Page;
  /** The app's iframe in the host page. */
  frame: FrameLocator;
  close(): Promise<void>;
}

export async function startBrowserSandbox(viewport: { width: number; height: number }): Promise<BrowserSandbox> {
  let s: Sandbox | undefined;
  const host = await startHostPage((companyId, userId) => s!.panelToken(companyId, userId));
  s = await startSandbox({ env: { PANEL_FRAME_ANCESTORS: host.origin } });
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(10000);
  const sandbox = s;
  return {
    s: sandbox,
    scenario: new Scenario(sandbox),
    host,
    browser,
    page,
    frame: page.frameLocator('#extension'),
    close: async () => {
      await browser.close();
      await host.close();
      await sandbox.close();
    },
  };
}
