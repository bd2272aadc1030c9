import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A deal webhook the app created in a company's Pipedrive, with the Basic credentials it delivers with. */
@Entity('webhook_subscriptions')
export class WebhookSubscription {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'bigint' })
  companyId: string;

  @Column({ type: 'bigint' })
  pipedriveWebhookId: string;

  @Column({ type: 'text' })
  eventAction: string;

  @Column({ type: 'text' })
  eventObject: string;

  /** Pipedrive removes a user's webhooks when that user uninstalls; we track whose they are. */
  @Column({ type: 'bigint' })
  ownerUserId: string;

  @Column({ type: 'text' })
  httpAuthUser: string;

  @Column({ type: 'text' })
  passwordHash: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
