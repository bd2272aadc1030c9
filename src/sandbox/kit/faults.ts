import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isControlPath } from './control-path';

export interface FaultRule {
  method?: string;
  /** An exact path, or a prefix ending with `*`. */
  path: string;
  /** Answer this status instead of the real handler. Without it, only `latencyMs` applies. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** How many matching requests the rule applies to (default 1). */
  count?: number;
  /** How many matching requests pass untouched before it applies (default 0): to hit the second call of a sequence. */
  skip?: number;
  latencyMs?: number;
  /**
   * The real handler runs (the vendor did the work) and `status` goes out instead of its answer: a reply lost on the
   * way back, as from a proxy timing out after the upstream committed. For routes that answer with `send`/`json`/`end`.
   */
  after?: boolean;
}

interface ActiveRule extends FaultRule {
  remaining: number;
  toSkip: number;
}

/** Injected failures and slowness on any route, so tests can show what the app does when a vendor misbehaves. */
export class FaultInjector {
  private rules: ActiveRule[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, remaining: rule.count ?? 1, toSkip: rule.skip ?? 0 });
  }

  clear(): void {
    this.rules = [];
  }

  middleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      if (isControlPath(req.path)) return next();
      const rule = this.rules.find((candidate) => candidate.remaining > 0 && matches(candidate, req));
      if (!rule) return next();
      if (rule.toSkip > 0) {
        rule.toSkip -= 1;
        return next();
      }
      rule.remaining -= 1;
      this.rules = this.rules.filter((candidate) => candidate.remaining > 0);
      const answer = (status: number) => {
        for (const [name, value] of Object.entries(rule.headers ?? {})) res.setHeader(name, value);
        if (rule.body === undefined) res.status(status).end();
        else res.status(status).json(rule.body);
      };
      const act = () => {
        if (rule.status === undefined) return next();
        if (!rule.after) return answer(rule.status);
        const status = rule.status;
        // Own properties shadow Express's methods for this response only; the handler's first answer is replaced.
        const instead = () => {
          Reflect.deleteProperty(res, 'send');
          Reflect.deleteProperty(res, 'end');
          answer(status);
          return res;
        };
        Object.assign(res, { send: instead, end: instead });
        next();
      };
      if (rule.latencyMs) setTimeout(act, rule.latencyMs);
      else act();
    };
  }
}

function matches(rule: FaultRule, req: Request): boolean {
  if (rule.method && rule.method.toUpperCase() !== req.method) return false;
  return rule.path.endsWith('*') ? req.path.startsWith(rule.path.slice(0, -1)) : req.path === rule.path;
}
