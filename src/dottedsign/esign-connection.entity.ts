import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A company's connection to its e-sign account. Tokens are sealed (SecretBox). */
@Entity('esign_connections')
export class EsignConnection {
  @PrimaryColumn({ type: 'bigint' })
  companyId: string;

  @Column({ type: 'text', default: 'dottedsign' })
  provider: string;

  /** `oauth`: the company's own account; `client_credentials`: the application owner's (single tenant, sandbox). */
  @Column({ type: 'text' })
  mode: 'oauth' | 'client_credentials';

  @Column({ type: 'text', nullable: true })
  accountEmail: string | null;

  @Column({ type: 'text', nullable: true })
  accessToken: string | null;

  @Column({ type: 'text', nullable: true })
  refreshToken: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  /** Background work acts as this Pipedrive user while their install exists. */
  @Column({ type: 'bigint', nullable: true })
  connectedByUserId: string | null;

  /**
   * When DottedSign refused the stored authorization for good (the refresh token or the client credentials): an
   * admin has to connect again, which clears it. A later successful refresh clears it too.
   */
  @Column({ type: 'timestamptz', nullable: true })
  reconnectRequiredAt: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt: Date;
}
