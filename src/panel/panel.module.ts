import { type MiddlewareConsumer, Module, type NestModule, RequestMethod } from '@nestjs/common';
import { DottedSignModule } from '../dottedsign/dottedsign.module';
import { InstallationsModule } from '../installations/installations.module';
import { PipedriveModule } from '../pipedrive/pipedrive.module';
import { SigningModule } from '../signing/signing.module';
import { ContractFilesController } from './contract-files.controller';
import { ContractFiles } from './contract-files.service';
import { ContractsController } from './contracts.controller';
import { DealSigners } from './deal-signers.service';
import { noStore } from './no-store.middleware';
import { PanelAccess } from './panel-access.service';
import { PanelPagesController } from './panel-pages.controller';
import { SettingsController } from './settings.controller';

@Module({
  imports: [InstallationsModule, PipedriveModule, DottedSignModule, SigningModule],
  controllers: [SettingsController, ContractsController, ContractFilesController, PanelPagesController],
  providers: [ContractFiles, DealSigners, PanelAccess],
})
export class PanelModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(noStore).forRoutes({ path: 'api/*path', method: RequestMethod.ALL });
  }
}
