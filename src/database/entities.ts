import { InboxEvent } from '../inbox/inbox-event.entity';

/** Every entity. Listed explicitly so the same code runs under ts-node, Jest and the build. */
export const entities = [InboxEvent];
