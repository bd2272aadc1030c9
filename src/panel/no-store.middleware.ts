import type { NextFunction, Request, Response } from 'express';

/** Private data must not be kept by browsers or proxies; set before routing so error answers carry it too. */
export function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  next();
}
