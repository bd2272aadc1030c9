import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A Pipedrive company that installed the app; its id is Pipedrive's company id. */
@Entity('companies')
export class Company {
  @PrimaryColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text' })
  domain: string;

  @Column({ type: 'jsonb', default: {} })
  settings: Record<string, unknown>;

  /** Deals changed in Pipedrive up to this time (Pipedrive's clock) were swept for lost create webhooks. */
  @Column({ type: 'timestamptz', default: () => 'now()' })
  dealsSweptUntil: Date;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  dealsSweptAt: Date;

  /** Deals added before this were judged by the auto-send rules of their time; the sweep leaves them alone. */
  @Column({ type: 'timestamptz', nullable: true })
  autoSendWidenedAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
