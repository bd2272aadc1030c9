export interface Company {
  id: number;
  name: string;
  domain: string;
  /** 1, 2, 5 or 7 by plan; multiplies the daily token budget. */
  planMultiplier: number;
}

export interface User {
  id: number;
  companyId: number;
  name: string;
  email: string;
  isAdmin: boolean;
  languageCode: string;
  countryCode: string;
}

export interface Stage {
  id: number;
  pipelineId: number;
  name: string;
  orderNr: number;
}

export interface Pipeline {
  id: number;
  companyId: number;
  name: string;
  stages: Stage[];
}

export type DealStatus = 'open' | 'won' | 'lost';

export interface Deal {
  id: number;
  companyId: number;
  title: string;
  ownerId: number;
  personId: number | null;
  orgId: number | null;
  pipelineId: number;
  stageId: number;
  value: number;
  currency: string;
  status: DealStatus;
  isArchived: boolean;
  archiveTime: Date | null;
  isDeleted: boolean;
  addTime: Date;
  updateTime: Date;
  stageChangeTime: Date | null;
  wonTime: Date | null;
  lostTime: Date | null;
  closeTime: Date | null;
  customFields: Record<string, unknown>;
  /** 1: owner and followers only (admins see every deal); 3: the entire company. */
  visibleTo: DealVisibility;
}

export type DealVisibility = 1 | 3;

export interface ContactValue {
  value: string;
  primary: boolean;
  label: string;
}

export interface Person {
  id: number;
  companyId: number;
  name: string;
  ownerId: number;
  orgId: number | null;
  emails: ContactValue[];
  phones: ContactValue[];
  isDeleted: boolean;
  addTime: Date;
  updateTime: Date;
}

export interface StoredFile {
  id: number;
  companyId: number;
  dealId: number;
  userId: number;
  fileName: string;
  mimeType: string;
  fileSize: number;
  content: Buffer;
  addTime: Date;
}

export interface Note {
  id: number;
  companyId: number;
  dealId: number;
  userId: number;
  content: string;
  pinnedToDealFlag: boolean;
  addTime: Date;
}

export type WebhookAction = 'create' | 'change' | 'delete' | '*';
export type WebhookObject = 'deal' | 'person' | '*';
export type WebhookVersion = '1.0' | '2.0';

export interface Webhook {
  id: number;
  companyId: number;
  clientId: string;
  /** The app user (installation) that created it: `meta.webhook_owner_id`. */
  ownerId: number;
  /** The user whose permissions apply to the events. */
  userId: number;
  subscriptionUrl: string;
  eventAction: WebhookAction;
  eventObject: WebhookObject;
  name: string;
  version: WebhookVersion;
  httpAuthUser: string | null;
  httpAuthPassword: string | null;
  addTime: Date;
  lastDeliveryTime: Date | null;
  lastHttpStatus: number | null;
  firstAttemptFailures: number;
  bannedUntil: Date | null;
  /** Start of the current run without a successful delivery. */
  failingSince: Date | null;
}
