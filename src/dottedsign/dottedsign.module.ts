import { Module } from '@nestjs/common';
import { InstallationsModule } from '../installations/installations.module';
import { PipedriveModule } from '../pipedrive/pipedrive.module';
import { DottedSignAuthController } from './dottedsign-auth.controller';
import { DottedSignClient } from './dottedsign.client';
import { DottedSignConnections } from './dottedsign-connections.service';
import { DottedSignWebhookController } from './dottedsign-webhook.controller';

@Module({
  imports: [InstallationsModule, PipedriveModule],
  controllers: [DottedSignAuthController, DottedSignWebhookController],
  providers: [DottedSignClient, DottedSignConnections],
  exports: [DottedSignClient, DottedSignConnections],
})
export class DottedSignModule {}
