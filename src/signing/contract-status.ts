import type { SignerProgress, SignerStatus, TaskStatus } from './esign-provider.port';
import type { ContractStatus } from './contract.entity';

/** States before a task exists; any task status may follow them. */
const BEFORE_TASK = new Set<ContractStatus>(['pending', 'needs_signer', 'failed']);
const FINAL = new Set<ContractStatus>(['completed', 'declined', 'voided', 'expired']);
const RANK: Record<TaskStatus, number> = { draft: 1, waiting: 2, completed: 3, declined: 3, voided: 3, expired: 3 };

export function isFinal(status: ContractStatus): boolean {
  return FINAL.has(status) || status === 'discarded';
}

export function isOpen(status: ContractStatus): boolean {
  return status === 'pending' || status === 'draft' || status === 'waiting';
}

/**
 * The status after the provider reports `reported`. Events arrive late and out of order, so a contract only
 * moves forward: a late `signed` after `completed`, or `waiting` after `voided`, changes nothing. Only a discard
 * follows a final state.
 */
export function nextStatus(current: ContractStatus, reported: TaskStatus | 'discarded'): ContractStatus {
  if (current === 'discarded') return current;
  if (reported === 'discarded') return 'discarded';
  if (BEFORE_TASK.has(current)) return reported;
  if (FINAL.has(current)) return current;
  return RANK[reported] >= RANK[current as TaskStatus] ? reported : current;
}

const SIGNER_RANK: Record<SignerStatus, number> = { waiting: 0, viewed: 1, signed: 2, declined: 2 };

/** Merges what the provider reports into what we know, per signer email, never moving a signer backwards. */
export function mergeSigners(known: SignerProgress[], reported: SignerProgress[]): SignerProgress[] {
  if (!reported.length) return known;
  return reported.map((incoming) => {
    const before = known.find((signer) => signer.email.toLowerCase() === incoming.email.toLowerCase());
    if (!before || SIGNER_RANK[incoming.status] >= SIGNER_RANK[before.status]) {
      return { ...incoming, signedAt: incoming.signedAt ?? before?.signedAt ?? null };
    }
    return before;
  });
}

/** Whether the provider's signers are further along than the known ones (a signer's lost webhook). */
export function signersAdvanced(known: SignerProgress[], reported: SignerProgress[]): boolean {
  const statusOf = (email: string) => known.find((signer) => signer.email.toLowerCase() === email.toLowerCase())?.status;
  return mergeSigners(known, reported).some((signer) => statusOf(signer.email) !== signer.status);
}

/** Applies one signer-level event (viewed, signed, declined) by email. */
export function applySignerEvent(known: SignerProgress[], email: string | null, status: SignerStatus, at: Date, reason?: string | null): SignerProgress[] {
  if (!email) return known;
  return known.map((signer) =>
    signer.email.toLowerCase() === email.toLowerCase() && SIGNER_RANK[status] >= SIGNER_RANK[signer.status] && signer.status !== status
      ? { ...signer, status, signedAt: status === 'signed' ? at.toISOString() : signer.signedAt, declineReason: reason ?? signer.declineReason ?? null }
      : signer,
  );
}
