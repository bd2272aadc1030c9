/**
 * Panel weight and speed: gzipped size of what each page loads, and in headless Chromium the time from the
 * iframe's navigation start to the SDK handshake and to the first contracts on screen (performance marks set by
 * client/src/panel/main.ts), for a deal with three contracts, cold (new browser context) and warm (reload), and for
 * the first open of a deal just added (cold: nothing about it remembered, so its visibility is read from Pipedrive),
 * with the simulator answering at once and then 150 ms late, as Pipedrive would across an ocean.
 *
 *   npx ts-node --transpile-only bench/panel.bench.ts [runs=15]
 *
 * Uses DATABASE_URL when set, else a throw-away embedded PostgreSQL. Numbers go to docs/performance.md ("Panel").
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.launcher';
import { launchChromium } from '../test/browser/support/chromium';
import { startHostPage } from '../test/browser/support/host-page';
import { ensureClientBuilt } from '../test/support/client-build';

const DIST = resolve(__dirname, '..', 'client', 'dist');
/** How late the Pipedrive simulator answers reads in the last pass: a round trip across an ocean. */
const PIPEDRIVE_FAR_MS = 150;

async function pageWeight(page: 'panel' | 'settings') {
  const html = await readFile(join(DIST, `${page}.html`), 'utf8');
  const assets = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((match) => match[1]);
  let raw = Buffer.byteLength(html);
  let gzipped = gzipSync(html, { level: 9 }).length;
  for (const asset of assets) {
    const content = await readFile(join(DIST, 'assets', asset));
    raw += content.length;
    gzipped += gzipSync(content, { level: 9 }).length;
  }
  return { page, files: assets.length + 1, raw, gzipped };
}

function summary(values: number[]) {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p95: at(0.95), min: sorted[0], max: sorted[sorted.length - 1] };
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 15);
  ensureClientBuilt();
  const weights = [await pageWeight('panel'), await pageWeight('settings')];

  // The sandbox's directories (the app's data directory) and the embedded cluster go in one, removed at the end.
  const scratch = await mkdtemp(join(tmpdir(), 'pdds-bench-panel-'));
  process.env.TEST_SCRATCH_DIR = scratch;
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  if (process.env.DATABASE_URL) process.env.TEST_SERVER_URL = process.env.DATABASE_URL;
  else {
    embedded = await startEmbeddedPostgres({ dataDir: scratch, persistent: false });
    process.env.TEST_SERVER_URL = embedded.adminUrl;
  }
  // Loaded after TEST_SERVER_URL is known: the sandbox creates its database there.
  const { startSandbox } = await import('../test/support/sandbox');
  const { Scenario } = await import('../test/support/scenario');

  let sign: (companyId: number, userId: number) => string = () => '';
  const host = await startHostPage((companyId, userId) => sign(companyId, userId));
  const s = await startSandbox({ env: { PANEL_FRAME_ANCESTORS: host.origin } });
  sign = s.panelToken;
  const scenario = new Scenario(s);
  const browser = await launchChromium();
  try {
    await scenario.installAndConnect({ autoSend: { enabled: false } });
    const { companyId, adminUserId: userId, dealId } = scenario.demo;
    for (let i = 0; i < 3; i++) {
      const sent = await s.api(companyId, userId, `/api/deals/${dealId}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
      if (sent.status !== 201) throw new Error(`send failed: ${sent.status}`);
    }
    const url = host.url({ app: s.app.url, page: 'panel', companyId, userId, dealId });

    const measure = async (page: import('playwright-core').Page) => {
      const deadline = Date.now() + 15000;
      for (;;) {
        const frame = page.frame({ url: /\/panel\?/ });
        const marks = await frame
          ?.evaluate(() => {
            const mark = (name: string) => performance.getEntriesByName(name)[0]?.startTime;
            return { initialized: mark('panel:sdk-initialized'), rendered: mark('panel:contracts-rendered') };
          })
          .catch(() => undefined);
        if (marks?.rendered !== undefined) return marks as { initialized: number; rendered: number };
        if (Date.now() > deadline) throw new Error('the panel did not render its contracts within 15 s');
        await new Promise((done) => setTimeout(done, 20));
      }
    };

    const openNewDeal = async (i: number) => {
      const added = await scenario.addDeal({ title: `Opened once ${i}`, owner_id: userId, person_id: scenario.demo.personWithEmailId });
      await scenario.drained();
      // The user's role, which Pipedrive is asked for once a minute, is read here: the open measures the deal alone.
      await s.api(companyId, userId, '/api/settings');
      const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
      const page = await context.newPage();
      await page.goto(host.url({ app: s.app.url, page: 'panel', companyId, userId, dealId: added.id }));
      const marks = await measure(page);
      await context.close();
      return marks;
    };

    const cold: Array<{ initialized: number; rendered: number }> = [];
    const warm: Array<{ initialized: number; rendered: number }> = [];
    const newDeal: Array<{ initialized: number; rendered: number }> = [];
    for (let i = 0; i < runs + 1; i++) {
      const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
      const page = await context.newPage();
      await page.goto(url);
      const first = await measure(page);
      await page.reload();
      const second = await measure(page);
      await context.close();
      const firstOfDeal = await openNewDeal(i);
      // The first round warms up the app and the browser process; it is not counted.
      if (i > 0) {
        cold.push(first);
        warm.push(second);
        newDeal.push(firstOfDeal);
      }
    }
    await s.sim('/faults', { body: { method: 'GET', path: `/c/${companyId}/api/*`, latencyMs: PIPEDRIVE_FAR_MS, count: 1_000_000 } });
    const newDealFar: Array<{ initialized: number; rendered: number }> = [];
    for (let i = 0; i < runs; i++) newDealFar.push(await openNewDeal(runs + 1 + i));

    const round = (value: number) => Math.round(value);
    const row = (label: string, samples: Array<{ initialized: number; rendered: number }>, key: 'initialized' | 'rendered') => {
      const stats = summary(samples.map((sample) => sample[key]));
      return `| ${label} | ${round(stats.median)} | ${round(stats.p95)} | ${round(stats.min)} | ${round(stats.max)} |`;
    };
    console.log(`\nBundle (gzip -9, everything the page loads: HTML, JS, CSS)`);
    console.log('| page | files | raw bytes | gzipped bytes |\n|---|---|---|---|');
    for (const weight of weights) console.log(`| ${weight.page} | ${weight.files} | ${weight.raw} | ${weight.gzipped} |`);
    console.log(`\nPanel timings in ms from the iframe's navigation start, ${runs} runs, deal with 3 contracts`);
    console.log('| measure | median | p95 | min | max |\n|---|---|---|---|---|');
    console.log(row('SDK initialised, cold', cold, 'initialized'));
    console.log(row('contracts rendered, cold', cold, 'rendered'));
    console.log(row('SDK initialised, warm (reload)', warm, 'initialized'));
    console.log(row('contracts rendered, warm (reload)', warm, 'rendered'));
    console.log(row('contracts rendered, first open of a new deal (cold)', newDeal, 'rendered'));
    console.log(row(`contracts rendered, first open of a new deal (cold), Pipedrive ${PIPEDRIVE_FAR_MS} ms away`, newDealFar, 'rendered'));
  } finally {
    await browser.close();
    await s.close();
    await host.close();
    await embedded?.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
