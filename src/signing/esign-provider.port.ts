/**
 * What the signing domain needs from an e-signature provider. DottedSign is the first adapter; every path,
 * field name and error code of a vendor stays inside its adapter.
 */

export type TaskStatus = 'draft' | 'waiting' | 'completed' | 'declined' | 'voided' | 'expired';
export type SignerStatus = 'waiting' | 'viewed' | 'signed' | 'declined';
export type TaskFileKind = 'completed' | 'audit_trail';

export interface SignerProgress {
  name: string;
  email: string;
  status: SignerStatus;
  signedAt: string | null;
  declineReason?: string | null;
}

export interface SignTask {
  taskId: string;
  status: TaskStatus;
  title: string;
  metadata: Record<string, string>;
  signers: SignerProgress[];
  declineReason: string | null;
  updatedAt: string | null;
}

export interface Template {
  id: string;
  name: string;
}

export interface CreateTaskRequest {
  title: string;
  templateId: string;
  signers: Array<{ name: string; email: string }>;
  ordered: boolean;
  metadata: Record<string, string>;
}

/** A provider-side event after its signature was verified. */
export interface ProviderEvent {
  dedupeKey: string;
  action: string;
  taskId: string;
  actorEmail: string | null;
  occurredAt: Date;
  metadata: Record<string, string>;
}

/** Credentials of one company's connection, resolved by the caller (refreshing as needed). */
export interface ProviderSession {
  accessToken(): Promise<string>;
  refreshAfterRejection(rejected: string): Promise<string>;
}

export interface ESignProvider {
  readonly name: string;
  templates(session: ProviderSession): Promise<Template[]>;
  createFromTemplate(session: ProviderSession, request: CreateTaskRequest): Promise<SignTask>;
  get(session: ProviderSession, taskId: string): Promise<SignTask | null>;
  findByMetadata(session: ProviderSession, key: string, value: string): Promise<SignTask[]>;
  void(session: ProviderSession, taskId: string, reason: string): Promise<void>;
  discard(session: ProviderSession, taskId: string): Promise<void>;
  download(session: ProviderSession, taskId: string, kind: TaskFileKind): Promise<Buffer>;
  /** Verifies the signature against the raw body; null when it does not verify. */
  parseWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): ProviderEvent[] | null;
}

/** Provider errors carry whether trying again can help, and a stable key for the user-facing reason. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly key: string,
    readonly retryable: boolean,
    readonly status: number | null = null,
    readonly retryAt: Date | null = null,
  ) {
    super(message);
  }
}

/** The provider no longer has the task: deleted there (DottedSign's `task_deleted`), or not found. */
export function isTaskGone(error: unknown): boolean {
  return error instanceof ProviderError && (error.key === 'task_deleted' || error.status === 404);
}

export const FINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'declined', 'voided', 'expired']);
