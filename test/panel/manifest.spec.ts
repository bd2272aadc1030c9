import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Sandbox, startSandbox } from '../support/sandbox';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Every value under a key ending in "url"/"Url" (or in a `subscriptionUrl`): the app's relative routes. */
function urls(value: Json, path = ''): Array<{ path: string; url: string }> {
  if (Array.isArray(value)) return value.flatMap((item, index) => urls(item, `${path}[${index}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) =>
      /url$/i.test(key) && typeof item === 'string' ? [{ path: `${path}.${key}`, url: item }] : urls(item, `${path}.${key}`),
    );
  }
  return [];
}

describe('manifest.json: the Developer Hub record points only at routes the app serves', () => {
  const manifest = JSON.parse(readFileSync(resolve(__dirname, '../../manifest.json'), 'utf8')) as { [key: string]: Json };
  let s: Sandbox;

  beforeAll(async () => {
    s = await startSandbox();
  });
  afterAll(() => s?.close());

  it('lists the callback, installation, panel, settings and webhook URLs', () => {
    const paths = urls(manifest).map((entry) => entry.url);
    expect(paths).toEqual(expect.arrayContaining(['/auth/pipedrive/callback', '/auth/pipedrive', '/panel', '/settings', '/webhooks/pipedrive']));
    expect(paths.every((url) => url.startsWith('/'))).toBe(true);
  });

  it('every URL in it is routed (not 404) with the method Pipedrive uses', async () => {
    const methods: Record<string, string[]> = { '/auth/pipedrive/callback': ['GET', 'DELETE'], '/webhooks/pipedrive': ['POST'] };
    const token = s.panelToken(s.pipedrive.demo.companyId, s.pipedrive.demo.adminUserId);
    for (const { path, url } of urls(manifest)) {
      for (const method of methods[url] ?? ['GET']) {
        const target = url === '/panel' || url === '/settings' ? `${url}?token=${token}` : url;
        const response = await fetch(`${s.app.url}${target}`, { method, redirect: 'manual', headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
        // The answer itself (redirect, 401 for an unsigned webhook…) is other tests' business; it must be routed.
        expect(`${path}: ${method} ${url} → ${response.status}`).not.toMatch(/→ (404|5\d\d)$/);
      }
    }
  });

  it('asks only for the minimal scopes, each with its reason', () => {
    const scopes = (manifest.oauth as { scopes: Record<string, string> }).scopes;
    expect(Object.keys(scopes).sort()).toEqual(['admin', 'base', 'contacts:read', 'deals:full']);
    expect(Object.values(scopes).every((reason) => reason.length > 10)).toBe(true);
  });
});
