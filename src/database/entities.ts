import { InboxEvent } from '../inbox/inbox-event.entity';
import { Company } from '../installations/company.entity';
import { Installation } from '../installations/installation.entity';
import { WebhookSubscription } from '../pipedrive/webhook-subscription.entity';
import { EsignConnection } from '../dottedsign/esign-connection.entity';
import { Contract } from '../signing/contract.entity';
import { ContractEvent } from '../signing/contract-event.entity';

/** Every entity. Listed explicitly so the same code runs under ts-node, Jest and the build. */
export const entities = [InboxEvent, Company, Installation, WebhookSubscription, EsignConnection, Contract, ContractEvent];
