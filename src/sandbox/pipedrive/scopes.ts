/** The scope an endpoint needs, and which granted scopes satisfy it (`:full` includes `:read`). */
export type RequiredScope = 'base' | 'deals:read' | 'deals:full' | 'contacts:read' | 'admin';

const SATISFIED_BY: Record<RequiredScope, string[]> = {
  base: [],
  'deals:read': ['deals:read', 'deals:full'],
  'deals:full': ['deals:full'],
  'contacts:read': ['contacts:read', 'contacts:full'],
  admin: ['admin'],
};

export function scopeGranted(required: RequiredScope, granted: readonly string[]): boolean {
  return required === 'base' || SATISFIED_BY[required].some((scope) => granted.includes(scope));
}
