import { InboxEvents1763830000000 } from './1763830000000-inbox-events';
import { Installations1763830100000 } from './1763830100000-installations';
import { Contracts1763830200000 } from './1763830200000-contracts';
import { DealSweep1764750000000 } from './1764750000000-deal-sweep';
import { InboxIndexes1764760000000 } from './1764760000000-inbox-indexes';
import { InboxFillfactor1764770000000 } from './1764770000000-inbox-fillfactor';
import { AutoSendWidened1764780000000 } from './1764780000000-auto-send-widened';
import { EsignReconnectRequired1764790000000 } from './1764790000000-esign-reconnect-required';
import { InstallationInvalidSince1764800000000 } from './1764800000000-installation-invalid-since';
import { ContractFormerDeals1764810000000 } from './1764810000000-contract-former-deals';
import { ContractFormerDealsFilled1764810100000 } from './1764810100000-contract-former-deals-filled';

/** Every migration, in order. Listed explicitly so the same code runs under ts-node, Jest and the build. */
export const migrations = [
  InboxEvents1763830000000,
  Installations1763830100000,
  Contracts1763830200000,
  DealSweep1764750000000,
  InboxIndexes1764760000000,
  InboxFillfactor1764770000000,
  AutoSendWidened1764780000000,
  EsignReconnectRequired1764790000000,
  InstallationInvalidSince1764800000000,
  ContractFormerDeals1764810000000,
  ContractFormerDealsFilled1764810100000,
];
