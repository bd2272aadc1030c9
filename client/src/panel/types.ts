/** The panel API's JSON (see src/signing/contract-view.ts and docs/panel.md). */
export type ContractStatus = 'pending' | 'needs_signer' | 'failed' | 'draft' | 'waiting' | 'completed' | 'declined' | 'voided' | 'expired' | 'discarded';

export interface ContractView {
  id: number;
  dealId: number;
  title: string;
  templateId: number | null;
  status: ContractStatus;
  statusReason: string | null;
  ordered: boolean;
  signers: Array<{ name: string; email: string; status: 'waiting' | 'viewed' | 'signed' | 'declined'; signedAt: string | null; declineReason?: string }>;
  events: Array<{ type: string; at: string; actor: string | null; details?: Record<string, unknown> }>;
  downloads: Array<{ kind: 'completed' | 'audit_trail'; url: string }>;
  createdAt: string;
  updatedAt: string;
}

export interface SettingsView {
  templateId: number | null;
  pipedrive: { authorization: 'ok' | 'reinstall_required' };
  dottedsign: { connected: boolean; account: string | null; status: 'not_connected' | 'ok' | 'reconnect_required' };
}

export interface Template {
  id: number;
  name: string;
}

export interface SignerSuggestion {
  state: 'ready' | 'no_contact' | 'no_email' | 'deal_not_found';
  person: { id: number; name: string; emails: string[] } | null;
  signers: Array<{ name: string; email: string }>;
}
