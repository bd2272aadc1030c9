import { z } from 'zod';

/** A deal's or contract's id in a panel route: Pipedrive's are numbers, so above 2^53 one would silently turn into another. */
export const recordId = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'must be a positive numeric id')
  .refine((value) => Number(value) <= Number.MAX_SAFE_INTEGER, 'must be a positive numeric id');
