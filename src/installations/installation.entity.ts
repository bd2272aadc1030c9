import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One user's install of the app: Pipedrive tokens are per (company, user). Tokens are sealed (SecretBox). */
@Entity('installations')
export class Installation {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'bigint' })
  companyId: string;

  @Column({ type: 'bigint' })
  userId: string;

  @Column({ type: 'text', default: '' })
  userName: string;

  @Column({ type: 'boolean', default: false })
  isAdmin: boolean;

  @Column({ type: 'text' })
  apiDomain: string;

  @Column({ type: 'text', array: true, default: [] })
  scopes: string[];

  @Column({ type: 'text' })
  accessToken: string;

  @Column({ type: 'text' })
  refreshToken: string;

  @Column({ type: 'timestamptz' })
  expiresAt: Date;

  @Column({ type: 'timestamptz' })
  refreshedAt: Date;

  /** Set when Pipedrive refused the refresh token: this install can no longer act. */
  @Column({ type: 'text', nullable: true })
  invalidReason: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  invalidSince: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;
}
