import { InboxEvents1763830000000 } from './1763830000000-inbox-events';

/** Every migration, in order. Listed explicitly so the same code runs under ts-node, Jest and the build. */
export const migrations = [InboxEvents1763830000000];
