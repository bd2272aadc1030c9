import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { FaultInjector, FaultRule } from './faults';
import type { RequestLog } from './request-log';
import type { SimClock } from './sim-clock';
import type { WebhookDispatcher } from './webhook-dispatcher';

export interface ControlParts {
  log: RequestLog;
  faults: FaultInjector;
  webhooks?: WebhookDispatcher;
  /** With a clock, `GET /_sim/clock` and `POST /_sim/clock/advance {seconds}` move the simulator's time. */
  clock?: SimClock;
  reset: () => void;
}

/**
 * The `/_sim` routes both simulators share: request log, faults, webhook misbehaviour, reset. Each simulator
 * adds its own domain routes to the returned router.
 */
export function controlRouter(parts: ControlParts): Router {
  const router = Router();
  router.use(express.json({ limit: '5mb' }));

  router.get('/requests', (req, res) => {
    const path = typeof req.query.path === 'string' ? req.query.path : undefined;
    const method = typeof req.query.method === 'string' ? req.query.method : undefined;
    res.json(parts.log.entries({ method, path: path?.endsWith('*') ? new RegExp(`^${escapeRegExp(path.slice(0, -1))}`) : path }));
  });
  router.delete('/requests', (_req, res) => {
    parts.log.clear();
    res.status(204).end();
  });

  router.post('/faults', (req, res) => {
    const body = (req.body ?? {}) as { rules?: FaultRule[] } & Partial<FaultRule>;
    const rules = Array.isArray(body.rules) ? body.rules : [body as FaultRule];
    for (const rule of rules) {
      if (typeof rule.path !== 'string') return res.status(400).json({ error: 'each fault rule needs a path' });
    }
    rules.forEach((rule) => parts.faults.add(rule));
    res.status(201).json({ added: rules.length });
  });
  router.delete('/faults', (_req, res) => {
    parts.faults.clear();
    res.status(204).end();
  });

  const webhooks = (res: Response): WebhookDispatcher | null => {
    if (!parts.webhooks) res.status(404).json({ error: 'this simulator sends no webhooks' });
    return parts.webhooks ?? null;
  };
  const count = (req: Request) => {
    const value = Number((req.body as { count?: unknown })?.count ?? 1);
    if (!Number.isInteger(value) || value < 1) throw Object.assign(new Error('count must be a positive integer'), { status: 400 });
    return value;
  };
  router.post('/webhooks/drop', (req, res) => {
    const match = (req.body as { match?: unknown })?.match;
    const scalar = (value: unknown) => typeof value === 'string' || typeof value === 'number';
    if (match !== undefined && (typeof match !== 'object' || match === null || Array.isArray(match) || !Object.values(match).every(scalar))) {
      return res.status(400).json({ error: 'match must be an object of strings and numbers' });
    }
    webhooks(res)?.dropNext(count(req), match as Record<string, string | number> | undefined);
    if (!res.headersSent) res.json({ ok: true });
  });
  router.post('/webhooks/duplicate', (req, res) => {
    webhooks(res)?.duplicateNext(count(req));
    if (!res.headersSent) res.json({ ok: true });
  });
  router.post('/webhooks/hold', (_req, res) => {
    webhooks(res)?.hold();
    if (!res.headersSent) res.json({ ok: true });
  });
  router.post('/webhooks/release', (req, res) => {
    const order = (req.body as { order?: string })?.order === 'reverse' ? 'reverse' : 'fifo';
    const dispatcher = webhooks(res);
    if (dispatcher) res.json({ released: dispatcher.release(order) });
  });
  router.get('/webhooks/deliveries', (_req, res) => {
    const dispatcher = webhooks(res);
    if (dispatcher) res.json(dispatcher.attempts());
  });

  if (parts.clock) {
    const clock = parts.clock;
    router.get('/clock', (_req, res) => res.json({ now: clock.iso() }));
    router.post('/clock/advance', (req, res) => {
      const seconds = Number((req.body as { seconds?: unknown })?.seconds);
      if (!Number.isFinite(seconds) || seconds < 0) return res.status(400).json({ error: 'seconds must be a non-negative number' });
      clock.advance(seconds * 1000);
      res.json({ now: clock.iso() });
    });
  }

  router.post('/reset', (_req, res) => {
    parts.reset();
    res.json({ ok: true });
  });

  router.use((error: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error.status ?? 400).json({ error: error.message });
  });
  return router;
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
