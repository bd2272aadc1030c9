import type { Deal, Person } from './pipedrive.entities';

export type EntityAction = 'create' | 'change' | 'delete';

/** "app" = a person in the Pipedrive UI (control routes), "api" = an API call by an app. */
export type ChangeSource = 'app' | 'api';

/** `mergedToId`: on the `delete` of a deal merged into another, that deal (v2 `meta.merged_to_id`). */
export type EntityEvent = { companyId: number; action: EntityAction; userId: number; changeSource: ChangeSource; at: Date; mergedToId?: number } & (
  | { object: 'deal'; entityId: number; current: Deal | null; previous: Deal | null }
  | { object: 'person'; entityId: number; current: Person | null; previous: Person | null }
);

export type EntityEventListener = (event: EntityEvent) => void;
