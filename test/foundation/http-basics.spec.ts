import { type TestApp, startTestApp } from '../support/test-app';

describe('HTTP basics (real app, real PostgreSQL)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('is live and ready once migrations ran and the queue started', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok', queue: 'ok' } });
  });

  it('answers malformed JSON with a 400 JSON error', async () => {
    const res = await fetch(`${t.url}/healthz`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'bad_request', message: 'The request body is not valid JSON' } });
  });

  it('answers an oversized body with a 413 JSON error', async () => {
    const body = JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) });
    const res = await fetch(`${t.url}/healthz`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('payload_too_large');
  });

  it('answers an unknown route with a 404 JSON error', async () => {
    const res = await fetch(`${t.url}/no/such/route`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'No route for GET /no/such/route' } });
  });

  it('lets Pipedrive frame the app, and tags every answer with a request id', async () => {
    const res = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
    expect(res.headers.get('content-security-policy')).toContain('frame-ancestors');
    expect(res.headers.get('content-security-policy')).toContain('https://*.pipedrive.com');
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    const fresh = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps an idle connection open for 5 s, as it tells its callers', async () => {
    // Webhook senders pool connections by this hint; a longer one made them reuse sockets the server was closing.
    const res = await fetch(`${t.url}/healthz`);
    expect(res.headers.get('keep-alive')).toBe('timeout=5');
  });
});
