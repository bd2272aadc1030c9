import { Module } from '@nestjs/common';
import { DottedSignClient } from '../dottedsign/dottedsign.client';
import { DottedSignModule } from '../dottedsign/dottedsign.module';
import { InstallationsModule } from '../installations/installations.module';
import { PipedriveModule } from '../pipedrive/pipedrive.module';
import { CompanyContext } from './company-context.service';
import { ContractSender, E_SIGN_PROVIDER } from './contract-sender.service';
import { ContractsRepository } from './contracts.repository';
import { DealNotes } from './deal-notes.service';
import { DealSweep } from './deal-sweep.service';
import { DealSync } from './deal-sync.service';
import { Reconciler } from './reconciler.service';
import { SigningOutcomes } from './signing-outcomes.service';

@Module({
  imports: [InstallationsModule, PipedriveModule, DottedSignModule],
  providers: [
    { provide: E_SIGN_PROVIDER, useExisting: DottedSignClient },
    ContractsRepository,
    CompanyContext,
    DealNotes,
    ContractSender,
    DealSync,
    DealSweep,
    SigningOutcomes,
    Reconciler,
  ],
  exports: [E_SIGN_PROVIDER, ContractsRepository, CompanyContext, ContractSender, DealSync, SigningOutcomes, Reconciler],
})
export class SigningModule {}
