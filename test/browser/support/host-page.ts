import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

const EXTENSION_HOST = resolve(__dirname, '../../../src/sandbox/extension-host/extension-host.js');

/**
 * The page playing Pipedrive around the app's iframe, through the shared extension-host module. It records
 * what the app asked of Pipedrive in `window.hostLog` and exposes the handle as `window.extension`.
 */
const HOST_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>Pipedrive host</title>
<style>body{margin:0;padding:16px;background:#e9ebee;font:13px system-ui}iframe{display:block;width:340px;border:0;background:#fff}
body.dark{background:#15171a}body.wide iframe{width:760px}</style></head>
<body><iframe id="extension" title="extension"></iframe>
<script type="module">
import { mountExtension, extensionUrl } from '/extension-host.js';
const query = new URLSearchParams(location.search);
const theme = query.get('theme') || 'light';
if (theme === 'dark') document.body.classList.add('dark');
if (query.get('page') === 'settings') document.body.classList.add('wide');
const identity = { companyId: query.get('companyId'), userId: query.get('userId') };
const token = (use) => fetch('/token?' + new URLSearchParams({ ...identity, use })).then((response) => response.text());
window.hostLog = { initialized: false, commands: [], snackbars: [], redirects: [], resizes: [], confirmations: [] };
window.confirmAnswer = true;
const url = extensionUrl(query.get('app') + '/' + query.get('page'), { token: await token('url'), ...identity, dealId: query.get('dealId') || undefined });
window.extension = mountExtension({
  iframe: document.getElementById('extension'),
  url,
  theme,
  getSignedToken: () => token('sdk'),
  initialHeight: query.get('page') === 'settings' ? 960 : undefined,
  onInitialized: () => (window.hostLog.initialized = true),
  onCommand: (command) => window.hostLog.commands.push(command),
  onSnackbar: (message) => window.hostLog.snackbars.push(message),
  onRedirect: (view, params) => window.hostLog.redirects.push({ view, ...params }),
  onResize: (height) => window.hostLog.resizes.push(height),
  onConfirm: (request) => (window.hostLog.confirmations.push(request), window.confirmAnswer),
});
window.setTheme = (next) => { document.body.classList.toggle('dark', next === 'dark'); window.extension.setTheme(next); };
</script></body></html>`;

export interface HostPage {
  origin: string;
  /** URL of the host page embedding the app's `page` for a user (and a deal, for the panel). */
  url(params: { app: string; page: 'panel' | 'settings'; companyId: number; userId: number; dealId?: number; theme?: 'light' | 'dark' }): string;
  close(): Promise<void>;
}

/**
 * A loopback server for the host page; `sign` makes the JWTs Pipedrive would hand the extension, in the iframe's URL
 * or answering GET_SIGNED_TOKEN (`use`).
 */
export async function startHostPage(sign: (companyId: number, userId: number, use: 'url' | 'sdk') => string): Promise<HostPage> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://host');
    if (url.pathname === '/host.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(HOST_HTML);
    } else if (url.pathname === '/extension-host.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(EXTENSION_HOST));
    } else if (url.pathname === '/token') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(sign(Number(url.searchParams.get('companyId')), Number(url.searchParams.get('userId')), url.searchParams.get('use') === 'url' ? 'url' : 'sdk'));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (params) => {
      const query = new URLSearchParams({ app: params.app, page: params.page, companyId: String(params.companyId), userId: String(params.userId), theme: params.theme ?? 'light' });
      if (params.dealId) query.set('dealId', String(params.dealId));
      return `${origin}/host.html?${query}`;
    },
    close: () => new Promise((done) => server.close(() => done())),
  };
}
