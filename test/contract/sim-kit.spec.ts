import { type Server, createServer } from 'node:http';
import express from 'express';
import { controlRouter } from '../../src/sandbox/kit/control-router';
import { FaultInjector } from '../../src/sandbox/kit/faults';
import { type RunningServer, listen } from '../../src/sandbox/kit/http-server';
import { renderPdf } from '../../src/sandbox/kit/pdf';
import { RequestLog } from '../../src/sandbox/kit/request-log';
import { SimClock } from '../../src/sandbox/kit/sim-clock';
import { WebhookDispatcher } from '../../src/sandbox/kit/webhook-dispatcher';

describe('simulator kit', () => {
  describe('request log, faults and the shared control routes', () => {
    let server: RunningServer;
    const log = new RequestLog();
    const faults = new FaultInjector();
    const clock = new SimClock();
    let resets = 0;

    beforeAll(async () => {
      const app = express();
      app.use(log.middleware(), express.json(), faults.middleware());
      app.use('/_sim', controlRouter({ log, faults, clock, reset: () => (resets += 1) }));
      app.all('/*splat', (req, res) => res.json({ real: true, path: req.path }));
      server = await listen(app);
    });
    afterAll(() => server.close());
    beforeEach(() => {
      log.clear();
      faults.clear();
    });

    const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
      fetch(`${server.url}${path}`, { method: init.method ?? 'GET', headers: { 'content-type': 'application/json' }, body: init.body === undefined ? undefined : JSON.stringify(init.body) });

    it('records requests with body and status, but not /_sim routes', async () => {
      await call('/v1/things?x=1', { method: 'POST', body: { a: 1 } });
      await call('/_sim/requests');
      const entries = (await (await call('/_sim/requests?path=/v1/*')).json()) as Array<Record<string, unknown>>;
      expect(entries).toEqual([expect.objectContaining({ seq: expect.any(Number), method: 'POST', path: '/v1/things', query: { x: '1' }, body: { a: 1 }, status: 200, durationMs: expect.any(Number) })]);
      expect(log.entries()).toHaveLength(1);
    });

    it('keeps only the latest requests, so a long-running sandbox does not fill its heap', async () => {
      const latest = new RequestLog(4);
      const app = express();
      app.use(latest.middleware());
      app.get('/n/:n', (_req, res) => res.end());
      const small = await listen(app);
      try {
        for (let n = 1; n <= 20; n += 1) await fetch(`${small.url}/n/${n}`);
      } finally {
        await small.close();
      }
      const paths = latest.entries().map((entry) => entry.path);
      expect(paths.length).toBeGreaterThanOrEqual(4);
      expect(paths.length).toBeLessThanOrEqual(5);
      expect(paths.slice(-4)).toEqual(['/n/17', '/n/18', '/n/19', '/n/20']);
    });

    it('answers a fault for count requests of a method and path prefix, and leaves /_sim alone', async () => {
      await call('/_sim/faults', { method: 'POST', body: { rules: [{ method: 'GET', path: '/v1/*', status: 503, count: 2, body: { down: true }, headers: { 'retry-after': '7' } }, { path: '/_sim/requests', status: 500 }] } });
      const first = await call('/v1/a');
      expect([first.status, first.headers.get('retry-after'), await first.json()]).toEqual([503, '7', { down: true }]);
      expect((await call('/v1/b', { method: 'POST', body: {} })).status).toBe(200);
      expect((await call('/v1/c')).status).toBe(503);
      expect((await call('/v1/d')).status).toBe(200);
      expect((await call('/_sim/requests')).status).toBe(200);
      expect((await call('/_sim/faults', { method: 'POST', body: { status: 500 } })).status).toBe(400);
    });

    it('lets the first skip matching requests through before a fault applies', async () => {
      await call('/_sim/faults', { method: 'POST', body: { method: 'POST', path: '/v1/hooks', status: 503, skip: 1 } });
      expect((await call('/v1/hooks', { method: 'POST', body: {} })).status).toBe(200);
      expect((await call('/v1/hooks', { method: 'POST', body: {} })).status).toBe(503);
      expect((await call('/v1/hooks', { method: 'POST', body: {} })).status).toBe(200);
    });

    it('moves the clock and calls reset', async () => {
      const before = clock.now();
      await call('/_sim/clock/advance', { method: 'POST', body: { seconds: 60 } });
      expect(clock.now() - before).toBeGreaterThanOrEqual(60_000);
      await call('/_sim/reset', { method: 'POST', body: {} });
      expect(resets).toBe(1);
      expect((await call('/_sim/webhooks/hold', { method: 'POST', body: {} })).status).toBe(404);
    });
  });

  describe('webhook dispatcher', () => {
    let receiver: Server;
    let url: string;
    let statuses: number[] = [];
    let bodies: string[] = [];
    let answerDelaysMs: number[] = [];

    beforeAll(async () => {
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          bodies.push(body);
          const status = statuses.shift() ?? 200;
          setTimeout(() => res.writeHead(status).end(), answerDelaysMs.shift() ?? 0);
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
      url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    });
    afterAll(() => new Promise((resolve) => receiver.close(resolve)));
    beforeEach(() => {
      statuses = [];
      bodies = [];
      answerDelaysMs = [];
    });

    it('retries failures on the scaled schedule and stops after the last delay', async () => {
      const dispatcher = new WebhookDispatcher({ retryDelaysMs: [1000, 1000], timeoutMs: 5000, timeScale: 0.001 });
      statuses = [500, 500, 500];
      dispatcher.send({ url, body: '{"n":1}', headers: {} });
      expect(dispatcher.pending()).toBe(1);
      await dispatcher.idle();
      expect(dispatcher.attempts().map((attempt) => [attempt.attempt, attempt.status, attempt.outcome])).toEqual([
        [1, 500, 'failed'],
        [2, 500, 'failed'],
        [3, 500, 'failed'],
      ]);
      expect(dispatcher.pending()).toBe(0);
      dispatcher.close();
    });

    it('logs a network error as a failed attempt', async () => {
      const dispatcher = new WebhookDispatcher({ retryDelaysMs: [], timeoutMs: 1000 });
      dispatcher.send({ url: 'http://127.0.0.1:1/closed', body: '{}', headers: {} });
      await dispatcher.idle();
      expect(dispatcher.attempts()).toEqual([expect.objectContaining({ attempt: 1, status: null, error: expect.any(String), outcome: 'failed' })]);
    });

    it('gives up on a receiver slower than its timeout, retries, and records how long each attempt waited', async () => {
      const dispatcher = new WebhookDispatcher({ retryDelaysMs: [10], timeoutMs: 1000 });
      answerDelaysMs = [1500];
      dispatcher.send({ url, body: '{}', headers: {} });
      await dispatcher.idle();
      const [slow, quick] = dispatcher.attempts();
      expect(slow).toMatchObject({ status: null, error: 'timeout', outcome: 'failed' });
      expect(slow.durationMs).toBeGreaterThanOrEqual(1000);
      expect(quick).toMatchObject({ attempt: 2, status: 200, outcome: 'delivered' });
      expect(quick.durationMs).toBeLessThan(1000);
    });

    it('holds deliveries and releases them in reverse, one after another', async () => {
      const dispatcher = new WebhookDispatcher({ retryDelaysMs: [], timeoutMs: 1000 });
      dispatcher.hold();
      for (const n of [1, 2, 3]) dispatcher.send({ url, body: `{"n":${n}}`, headers: {} });
      expect(dispatcher.pending()).toBe(3);
      await dispatcher.idle();
      expect(bodies).toEqual([]);
      expect(dispatcher.release('reverse')).toBe(3);
      await dispatcher.idle();
      expect(bodies).toEqual(['{"n":3}', '{"n":2}', '{"n":1}']);
    });

    it('drops only the deliveries whose meta matches, when asked to', async () => {
      const dispatcher = new WebhookDispatcher({ retryDelaysMs: [], timeoutMs: 1000 });
      dispatcher.dropNext(1, { taskId: 7, action: 'completed' });
      for (const [taskId, action] of [[8, 'completed'], [7, 'signed'], [7, 'completed'], [7, 'completed']] as const) {
        dispatcher.send({ url, body: `{"task":${taskId},"action":"${action}"}`, headers: {}, meta: { taskId, action } });
      }
      await dispatcher.idle();
      expect(bodies.sort()).toEqual(['{"task":7,"action":"completed"}', '{"task":7,"action":"signed"}', '{"task":8,"action":"completed"}']);
      expect(dispatcher.attempts().filter((attempt) => attempt.outcome === 'dropped').map((attempt) => attempt.meta)).toEqual([{ taskId: 7, action: 'completed' }]);
    });

    it('keeps only its latest attempts', async () => {
      const dispatcher = new WebhookDispatcher({ retryDelaysMs: [], timeoutMs: 1000, logLimit: 3 });
      for (let n = 1; n <= 10; n += 1) dispatcher.send({ url, body: `{"n":${n}}`, headers: {}, meta: { n } });
      await dispatcher.idle();
      const kept = dispatcher.attempts().map((attempt) => Number(attempt.meta?.n));
      expect(kept.length).toBeGreaterThanOrEqual(3);
      expect(kept.length).toBeLessThanOrEqual(4);
      expect(kept.sort((a, b) => a - b).slice(-3)).toEqual([8, 9, 10]);
    });

    it('clear() cancels scheduled retries', async () => {
      const dispatcher = new WebhookDispatcher({ retryDelaysMs: [50], timeoutMs: 1000 });
      statuses = [500];
      dispatcher.send({ url, body: '{}', headers: {} });
      await new Promise((resolve) => setTimeout(resolve, 20));
      dispatcher.clear();
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(bodies).toHaveLength(1);
      expect(dispatcher.attempts()).toEqual([]);
      await dispatcher.idle();
    });
  });

  it('renders a PDF whose xref points at its objects', () => {
    const pdf = renderPdf(['Hello (world)', 'Ünïcode']).toString('latin1');
    expect(pdf.startsWith('%PDF-1.4\n')).toBe(true);
    expect(pdf.endsWith('%%EOF\n')).toBe(true);
    expect(pdf).toContain('(Hello \\(world\\))');
    const xref = Number(/startxref\n(\d+)/.exec(pdf)![1]);
    const offsets = pdf.slice(xref).split('\n').slice(3, 8).map((line) => Number(line.slice(0, 10)));
    offsets.forEach((offset, index) => expect(pdf.slice(offset, offset + 7)).toBe(`${index + 1} 0 obj`));
  });
});
