import { Body, Controller, Delete, Get, Headers, HttpCode, Logger, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../common/api-error';
import { resultPage, sendHtml } from '../common/html-page';
import { constantTimeEqual } from '../common/passwords';
import { validate } from '../common/validation';
import { CurrentPanelUser, PanelAuthGuard, type PanelUser } from '../panel/panel-auth.guard';
import { PipedriveAdmins, adminCheckError } from './pipedrive-admins.service';
import { PipedriveClient } from './pipedrive.client';
import { PipedriveApiError } from './pipedrive.errors';
import { PipedriveInstallService, missingScopes } from './pipedrive-install.service';
import { PipedriveOAuth } from './pipedrive-oauth.service';

const numericId = z.union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,18}$/)]).transform(String);
const uninstallNotice = z.object({ client_id: z.string().optional(), company_id: numericId, user_id: numericId }).passthrough();

@Controller()
export class PipedriveAuthController {
  private readonly logger = new Logger(PipedriveAuthController.name);

  constructor(
    private readonly oauth: PipedriveOAuth,
    private readonly install: PipedriveInstallService,
    private readonly client: PipedriveClient,
    private readonly admins: PipedriveAdmins,
  ) {}

  /** The app's Installation URL: starts OAuth with a signed state. */
  @Get('auth/pipedrive')
  start(@Req() req: FastifyRequest, @Res() res: FastifyReply): void {
    if (!this.oauth.configured) return this.page(res, 503, 'Not configured', 'This app has no Pipedrive credentials configured.');
    this.oauth.start(req, res);
  }

  @Get('auth/pipedrive/callback')
  async callback(@Req() req: FastifyRequest, @Res() res: FastifyReply): Promise<void> {
    const { error, code } = req.query as Record<string, unknown>;
    if (error === 'user_denied' || error === 'access_denied') {
      return this.page(res, 200, 'Installation cancelled', 'You cancelled the installation, so nothing was installed. You can install the app again from the Pipedrive Marketplace at any time.');
    }
    if (typeof error === 'string') return this.page(res, 400, 'Installation failed', `Pipedrive reported: ${error}.`);
    if (typeof code !== 'string' || !code) return this.page(res, 400, 'Installation failed', 'The request from Pipedrive had no authorization code. Start the installation again.');
    if (!this.oauth.configured) return this.page(res, 503, 'Not configured', 'This app has no Pipedrive credentials configured.');

    const exchanged = await this.oauth.exchange(req, res);
    if ('failure' in exchanged) return this.page(res, 400, 'Installation failed', exchanged.failure);
    const missing = missingScopes(exchanged.tokens.scopes);
    if (missing.length) {
      this.logger.error(`install refused: Pipedrive granted no ${missing.join(', ')} scope; check the app's scopes in Developer Hub`);
      return this.page(res, 403, 'Installation failed', `The app needs these Pipedrive permissions and did not get them: ${missing.join(', ')}. Nothing was installed. Please tell the app's publisher.`);
    }
    try {
      const { redirectTo } = await this.install.completeInstall(exchanged.tokens);
      res.redirect(redirectTo, 302);
    } catch (failure) {
      this.logger.error(`install failed: ${(failure as Error).message}`);
      this.page(res, 502, 'Installation failed', 'Pipedrive did not answer while we finished the installation. Please try again in a minute.');
    }
  }

  /** Pipedrive's uninstall notice: Basic client_id:client_secret, JSON {client_id, company_id, user_id, timestamp}. */
  @Delete('auth/pipedrive/callback')
  @HttpCode(200)
  async uninstalled(@Headers('authorization') authorization: string | undefined, @Body() body: unknown) {
    if (!this.oauth.configured || !constantTimeEqual(authorization ?? '', this.client.basicClientAuth)) {
      throw ApiError.unauthorized('Invalid client credentials');
    }
    const notice = validate(uninstallNotice, body);
    const outcome = await this.install.uninstall(notice.company_id, notice.user_id);
    return { ok: true, ...outcome };
  }

  /** An admin disconnects the app from the settings page. */
  @Post('api/pipedrive/disconnect')
  @HttpCode(200)
  @UseGuards(PanelAuthGuard)
  async disconnect(@CurrentPanelUser() user: PanelUser) {
    const role = await this.admins.check(user.companyId, user.userId);
    if (role === 'unavailable' || role === 'not_admin') throw adminCheckError(role, 'disconnect the app');
    const outcome = await this.install.disconnect(user.companyId, user.userId).catch((error: unknown) => {
      // Pipedrive refusing, unreachable or failing: nothing was changed.
      if (error instanceof PipedriveApiError) {
        const advice = error.retryable ? 'try again in a minute' : 'the app’s set-up needs fixing first';
        throw new ApiError(502, 'pipedrive_unavailable', `Pipedrive did not revoke the app's access, so nothing was changed; ${advice} (${error.message})`);
      }
      throw error;
    });
    if (outcome === 'not_installed') throw ApiError.notFound('You have no installation of this app');
    if (outcome === 'not_admin') throw ApiError.forbidden('Only a Pipedrive admin can disconnect the app');
    return { ok: true, ...outcome };
  }

  private page(res: FastifyReply, status: number, title: string, message: string): void {
    sendHtml(res, status, resultPage({ title, message }));
  }
}
