import type { NextFunction, Request, RequestHandler, Response } from 'express';

export interface LoggedRequest {
  seq: number;
  at: string;
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  status: number | null;
  durationMs: number | null;
}

/** Every request a simulator received (except its own `/_sim` controls), for tests to read back. */
export class RequestLog {
  private readonly logged: LoggedRequest[] = [];
  private seq = 0;

  middleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      if (req.path.startsWith('/_sim')) return next();
      const started = Date.now();
      const entry: LoggedRequest = {
        seq: ++this.seq,
        at: new Date(started).toISOString(),
        method: req.method,
        path: req.path,
        query: { ...req.query },
        headers: { ...req.headers },
        body: undefined,
        status: null,
        durationMs: null,
      };
      this.logged.push(entry);
      res.on('finish', () => {
        entry.body = describeBody(req);
        entry.status = res.statusCode;
        entry.durationMs = Date.now() - started;
      });
      next();
    };
  }

  entries(filter: { method?: string; path?: string | RegExp } = {}): LoggedRequest[] {
    return this.logged.filter(
      (entry) =>
        (!filter.method || entry.method === filter.method.toUpperCase()) &&
        (!filter.path || (typeof filter.path === 'string' ? entry.path === filter.path : filter.path.test(entry.path))),
    );
  }

  clear(): void {
    this.logged.length = 0;
  }
}

/** The parsed body as the route saw it; for multipart, the fields plus file names and sizes. */
function describeBody(req: Request): unknown {
  const files = (req as Request & { file?: { originalname: string; size: number; fieldname: string } }).file;
  if (files) return { ...(req.body as object), [files.fieldname]: { fileName: files.originalname, size: files.size } };
  return req.body;
}
