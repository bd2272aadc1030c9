import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { InstallationsModule } from '../installations/installations.module';
import { PipedriveAuthController } from './pipedrive-auth.controller';
import { PipedriveAdmins } from './pipedrive-admins.service';
import { PipedriveClient } from './pipedrive.client';
import { PipedriveInstallService } from './pipedrive-install.service';
import { PipedriveJobs } from './pipedrive.jobs';
import { PipedriveOAuth } from './pipedrive-oauth.service';
import { PipedriveTokens } from './pipedrive-tokens.service';
import { PipedriveWebhookController } from './pipedrive-webhook.controller';
import { PipedriveWebhooks } from './pipedrive-webhooks.service';
import { WebhookCredentials } from './webhook-credentials.service';
import { WebhookSubscription } from './webhook-subscription.entity';

@Module({
  imports: [InstallationsModule, TypeOrmModule.forFeature([WebhookSubscription])],
  controllers: [PipedriveAuthController, PipedriveWebhookController],
  providers: [PipedriveAdmins, PipedriveClient, PipedriveTokens, PipedriveOAuth, PipedriveInstallService, PipedriveWebhooks, PipedriveJobs, WebhookCredentials],
  exports: [PipedriveAdmins, PipedriveClient, PipedriveTokens, PipedriveWebhooks],
})
export class PipedriveModule {}
