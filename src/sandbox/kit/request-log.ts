import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { isControlPath } from './control-path';
import { DEFAULT_LOG_LIMIT, LatestEntries } from './latest-entries';

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

/** The latest requests a simulator received (except its own `/_sim` controls), for tests to read back. */
export class RequestLog {
  private readonly logged: LatestEntries<LoggedRequest>;
  private seq = 0;

  constructor(private readonly limit = DEFAULT_LOG_LIMIT) {
    this.logged = new LatestEntries(limit);
  }

  /** With a limit of 0 nothing is recorded, and a request costs nothing here. */
  middleware(): RequestHandler {
    if (this.limit === 0) return (_req: Request, _res: Response, next: NextFunction) => next();
    return (req: Request, res: Response, next: NextFunction) => {
      if (isControlPath(req.path)) return next();
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
      (entry: LoggedRequest) =>
        (!filter.method || entry.method === filter.method.toUpperCase()) &&
        (!filter.path || (typeof filter.path === 'string' ? entry.path === filter.path : filter.path.test(entry.path))),
    );
  }

  clear(): void {
    this.logged.clear();
  }
}

interface UploadedFile {
  fieldname: string;
  originalname: string;
  size: number;
}

/** The parsed body as the route saw it; for multipart (multer), the fields plus file names and sizes. */
function describeBody(req: Request): unknown {
  const upload = req as Request & { file?: UploadedFile; files?: UploadedFile[] | Record<string, UploadedFile[]> };
  const files = [...(upload.file ? [upload.file] : []), ...(Array.isArray(upload.files) ? upload.files : Object.values(upload.files ?? {}).flat())];
  if (!files.length) return req.body;
  const described: Record<string, unknown> = { ...(req.body as object) };
  for (const file of files) {
    const summary = { fileName: file.originalname, size: file.size };
    const previous = described[file.fieldname];
    described[file.fieldname] = previous === undefined ? summary : [...(Array.isArray(previous) ? previous : [previous]), summary];
  }
  return described;
}
