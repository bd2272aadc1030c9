import { Module } from '@nestjs/common';
import { DottedSignModule } from '../dottedsign/dottedsign.module';
import { InstallationsModule } from '../installations/installations.module';
import { SigningModule } from '../signing/signing.module';
import { ContractsController } from './contracts.controller';
import { SettingsController } from './settings.controller';

@Module({
  imports: [InstallationsModule, DottedSignModule, SigningModule],
  controllers: [SettingsController, ContractsController],
})
export class PanelModule {}
