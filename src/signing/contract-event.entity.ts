import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One line of a contract's timeline; `dedupeKey` makes recording the same happening twice a no-op. */
@Entity('contract_events')
export class ContractEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'bigint' })
  contractId: string;

  @Column({ type: 'text' })
  type: string;

  @Column({ type: 'text', nullable: true })
  actor: string | null;

  @Column({ type: 'timestamptz' })
  at: Date;

  @Column({ type: 'jsonb', default: {} })
  details: Record<string, unknown>;

  @Column({ type: 'text' })
  dedupeKey: string;
}
