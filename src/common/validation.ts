import type { z } from 'zod';
import { ApiError } from './api-error';

/** Parses input against a schema; a mismatch is a 400 naming each wrong field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message }));
  throw ApiError.badRequest(details.map((d) => `${d.field}: ${d.message}`).join('; '), details);
}
