import type { Contract } from './contract.entity';
import type { ContractEvent } from './contract-event.entity';

export type TimelineLine = Pick<ContractEvent, 'type' | 'at' | 'actor' | 'details'>;

/** The panel API's JSON for a contract (the design's shape). */
export function contractView(contract: Contract, events: TimelineLine[]) {
  return {
    id: Number(contract.id),
    dealId: Number(contract.dealId),
    provider: contract.provider,
    taskId: contract.taskId,
    title: contract.title,
    templateId: contract.templateId === null ? null : Number(contract.templateId),
    status: contract.status,
    statusReason: contract.statusReason,
    ordered: contract.ordered,
    signers: contract.signers.map((signer) => ({
      name: signer.name,
      email: signer.email,
      status: signer.status,
      signedAt: signer.signedAt,
      ...(signer.declineReason ? { declineReason: signer.declineReason } : {}),
    })),
    events: events.map((event) => ({ type: event.type, at: event.at.toISOString(), actor: event.actor, ...(Object.keys(event.details).length ? { details: event.details } : {}) })),
    files: contract.files.map((file) => ({ kind: file.kind, pipedriveFileId: file.pipedriveFileId })),
    createdAt: contract.createdAt.toISOString(),
    updatedAt: contract.updatedAt.toISOString(),
  };
}
