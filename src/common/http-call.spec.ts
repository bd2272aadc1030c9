import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FormData } from 'undici';
import { httpCall } from './http-call';

describe('httpCall', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ path: string; authorization?: string; contentType?: string; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ path: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
        if (req.url === '/json') return void res.setHeader('x-ratelimit-remaining', '7').setHeader('content-type', 'application/json').end('{"ok":true}');
        if (req.url === '/text') return void res.writeHead(503).end('upstream down');
        if (req.url === '/moved') return void res.writeHead(302, { location: '/json' }).end();
        if (req.url === '/slow') return void setTimeout(() => res.end('late'), 3000).unref();
        if (req.url === '/busy-once') return void (seen.filter((request) => request.path === '/busy-once').length === 1 ? res.writeHead(503).end() : res.end('{"ok":true}'));
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => (seen.length = 0));

  it('resolves with status, headers and the parsed body', async () => {
    const answer = await httpCall(`${base}/json`, { method: 'GET', headers: { authorization: 'Bearer t' } });
    expect(answer).toMatchObject({ status: 200, ok: true });
    expect(answer.header('X-RateLimit-Remaining')).toBe('7');
    expect(answer.header('retry-after')).toBeNull();
    expect(answer.json()).toEqual({ ok: true });
    expect(seen[0].authorization).toBe('Bearer t');
  });

  it('resolves every HTTP status, with json() null for a body that is not JSON; a read answered 5xx is tried once more first', async () => {
    const answer = await httpCall(`${base}/text`, { method: 'GET' });
    expect(answer).toMatchObject({ status: 503, ok: false });
    expect(answer.body.toString()).toBe('upstream down');
    expect(answer.json()).toBeNull();
    expect(seen.map((request) => request.path)).toEqual(['/text', '/text']);
  });

  it('gets past one 5xx on a read, and never repeats a write', async () => {
    expect((await httpCall(`${base}/busy-once`, { method: 'GET' })).json()).toEqual({ ok: true });
    expect(seen.map((request) => request.path)).toEqual(['/busy-once', '/busy-once']);
    seen.length = 0;
    expect((await httpCall(`${base}/text`, { method: 'POST', body: '{}' })).status).toBe(503);
    expect(seen.map((request) => request.path)).toEqual(['/text']);
  });

  it('follows a redirect', async () => {
    const answer = await httpCall(`${base}/moved`, { method: 'GET' });
    expect(answer.json()).toEqual({ ok: true });
    expect(seen.map((request) => request.path)).toEqual(['/moved', '/json']);
  });

  it('sends a form as multipart with its boundary', async () => {
    const form = new FormData();
    form.append('deal_id', '12');
    form.append('file', new Blob([Buffer.from('%PDF-1.4')], { type: 'application/pdf' }), 'signed.pdf');
    await httpCall(`${base}/json`, { method: 'POST', body: form });
    expect(seen[0].contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen[0].body).toContain('filename="signed.pdf"');
    expect(seen[0].body).toContain('%PDF-1.4');
  });

  it('rejects when the answer is slower than the timeout (undici counts it in steps of about a second)', async () => {
    await expect(httpCall(`${base}/slow`, { method: 'GET', timeoutMs: 200 })).rejects.toThrow(/timeout/i);
  });

  it('rejects when nothing listens (a read after trying twice)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(httpCall(`http://127.0.0.1:${port}/`, { method: 'GET' })).rejects.toThrow();
  });
});
