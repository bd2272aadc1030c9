/** Our view of Pipedrive's data; the client maps vendor JSON to these and nothing else sees the JSON. */

export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  expiresAt: Date;
  apiDomain: string;
  scopes: string[];
}

export interface PipedriveUser {
  id: number;
  name: string;
  email: string;
  companyId: number;
  companyName: string;
  companyDomain: string;
  isAdmin: boolean;
}

export type DealStatus = 'open' | 'won' | 'lost';

export interface PipedriveDeal {
  id: number;
  title: string;
  ownerId: number | null;
  personId: number | null;
  pipelineId: number | null;
  stageId: number | null;
  status: DealStatus;
  isArchived: boolean;
  isDeleted: boolean;
  wonTime: string | null;
  /** RFC 3339. */
  addTime: string | null;
  updateTime: string | null;
}

export interface PipedrivePerson {
  id: number;
  name: string;
  /** The primary email, else the first; null when the person has none. */
  email: string | null;
  /** Every usable email, the primary one first. */
  emails: string[];
}

export interface PipedriveWebhook {
  id: number;
  subscriptionUrl: string;
  eventAction: string;
  eventObject: string;
}

export interface PipedriveFile {
  id: number;
  name: string;
  dealId: number | null;
}
