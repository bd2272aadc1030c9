import jwt from 'jsonwebtoken';
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
  /**
   * The next `count` GET_SIGNED_TOKEN answers are tokens issued 400 s ago with the usual 300 s lifetime: expired for
   * the server, though they look fresh to a browser that judges them by their lifetime (or by a clock running behind).
   */
  handOutExpiredTokens(count: number): void;
  close(): Promise<void>;
}

export async function startBrowserSandbox(viewport: { width: number; height: number }): Promise<BrowserSandbox> {
  let s: Sandbox | undefined;
  let expiredTokens = 0;
  const host = await startHostPage((companyId, userId, use) => {
    if (use === 'url' || expiredTokens === 0) return s!.panelToken(companyId, userId);
    expiredTokens -= 1;
    const issuedAt = Math.floor(Date.now() / 1000) - 400;
    return jwt.sign({ companyId, userId, iat: issuedAt }, s!.credentials.pipedriveClientSecret, { algorithm: 'HS256', expiresIn: 300 });
  });
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
    handOutExpiredTokens: (count) => {
      expiredTokens = count;
    },
    close: async () => {
      await browser.close();
      await host.close();
      await sandbox.close();
    },
  };
}
