import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { SignerProgress, TaskFileKind } from './esign-provider.port';

export type ContractStatus =
  | 'pending'
  | 'needs_signer'
  | 'failed'
  | 'draft'
  | 'waiting'
  | 'completed'
  | 'declined'
  | 'voided'
  | 'expired'
  | 'discarded';

export interface AttachedFile {
  kind: TaskFileKind;
  pipedriveFileId: number;
}

/** Side effects on Pipedrive already done for this contract, so a retry never repeats one. */
export interface ContractEffects {
  dealUpdated?: string;
  dealUpdateSkipped?: string;
  noteIds?: Record<string, number>;
  /** Write-back steps Pipedrive refused for good, with the reason; they are not tried again. */
  skipped?: Record<string, string>;
  /** Every write-back step of the final state is done: reconciliation stops visiting the contract. */
  writeBackDone?: string;
}

/** The binding deal ↔ signing task, and where the signing stands. */
@Entity('contracts')
export class Contract {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'bigint' })
  companyId: string;

  @Column({ type: 'bigint' })
  dealId: string;

  /** Deals merged into others took this contract with them: its tasks' metadata may name one of these. */
  @Column({ type: 'bigint', array: true, default: () => "'{}'" })
  formerDealIds: string[];

  @Column({ type: 'text', default: 'dottedsign' })
  provider: string;

  @Column({ type: 'text', nullable: true })
  taskId: string | null;

  /** Unique per company: one contract per deal-created event, or one per panel request. */
  @Column({ type: 'text' })
  intentKey: string;

  @Column({ type: 'text', nullable: true })
  templateId: string | null;

  @Column({ type: 'text', default: '' })
  title: string;

  @Column({ type: 'text', default: 'pending' })
  status: ContractStatus;

  @Column({ type: 'text', nullable: true })
  statusReason: string | null;

  @Column({ type: 'jsonb', default: [] })
  signers: SignerProgress[];

  @Column({ type: 'boolean', default: false })
  ordered: boolean;

  @Column({ type: 'jsonb', default: [] })
  files: AttachedFile[];

  @Column({ type: 'jsonb', default: {} })
  effects: ContractEffects;

  @Column({ type: 'bigint', nullable: true })
  createdByUserId: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;

  @Column({ type: 'timestamptz', nullable: true })
  lastCheckedAt: Date | null;
}

/** Every deal the contract has been on, its own first: a task's metadata names the deal it was on when sent. */
export function dealsOf(contract: Pick<Contract, 'dealId' | 'formerDealIds'>): string[] {
  return [...new Set([contract.dealId, ...contract.formerDealIds.map(String)])];
}
