import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type InboxSource = 'pipedrive' | 'dottedsign';
export type InboxStatus = 'pending' | 'processed' | 'ignored' | 'failed';

/** One webhook delivery as received; the unique (source, dedupeKey) makes redelivery a no-op. */
@Entity('inbox_events')
export class InboxEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'text' })
  source: InboxSource;

  @Column({ type: 'text' })
  dedupeKey: string;

  @Column({ type: 'text' })
  eventType: string;

  @Column({ type: 'bigint', nullable: true })
  companyId: string | null;

  @Column({ type: 'jsonb' })
  payload: unknown;

  @Column({ type: 'text', default: 'pending' })
  status: InboxStatus;

  @Column({ type: 'text', nullable: true })
  statusReason: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  receivedAt: Date;

  @Column({ type: 'timestamptz', nullable: true })
  processedAt: Date | null;
}
