import { Controller, Delete, Get, Headers, HttpCode, Inject, Logger, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { bindToBrowser, forgetFlow, isSameBrowser } from '../common/browser-binding';
import { resultPage, sendHtml } from '../common/html-page';
import { SignedTokens } from '../common/signed-tokens';
import { type AppConfig, CONFIG } from '../config/app-config';
import { PipedriveAdmins, adminCheckError } from '../pipedrive/pipedrive-admins.service';
import { CurrentPanelUser, PanelAuthGuard, type PanelUser, verifyPanelToken } from '../panel/panel-auth.guard';
import { ProviderError } from '../signing/esign-provider.port';
import { DottedSignClient } from './dottedsign.client';
import { CompanyGoneError, DottedSignConnections } from './dottedsign-connections.service';

const STATE_PURPOSE = 'dottedsign-connect';
const STATE_TTL_SECONDS = 15 * 60;
const CALLBACK_PATH = '/auth/dottedsign/callback';

/** Connecting a company's DottedSign account: OAuth from the settings page, or the app's own account. */
@Controller()
export class DottedSignAuthController {
  private readonly logger = new Logger(DottedSignAuthController.name);

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly client: DottedSignClient,
    private readonly connections: DottedSignConnections,
    private readonly admins: PipedriveAdmins,
    private readonly signed: SignedTokens,
  ) {}

  private get callbackUrl(): string {
    return `${this.config.appUrl}${CALLBACK_PATH}`;
  }

  private get secureCookies(): boolean {
    return this.config.appUrl.startsWith('https:');
  }

  /** `?token=<panel JWT>` identifies company and user (the settings page opens this in a new window). */
  @Get('auth/dottedsign')
  async start(@Query('token') token: string | undefined, @Res() res: FastifyReply): Promise<void> {
    const user = token ? verifyPanelToken(token, this.config.pipedrive.jwtSecret) : null;
    if (!user) return this.page(res, 401, 'Cannot connect DottedSign', 'The link has expired. Open the app settings in Pipedrive and try again.');
    if (!(await this.adminOrPage(res, user, 'Cannot connect DottedSign', 'Install the app in Pipedrive first.'))) return;
    const binding = bindToBrowser(CALLBACK_PATH, STATE_TTL_SECONDS, this.secureCookies);
    const state = this.signed.sign(STATE_PURPOSE, { companyId: user.companyId, userId: user.userId, flow: binding.flow, proof: binding.proof }, STATE_TTL_SECONDS);
    res.header('set-cookie', binding.setCookie).redirect(this.client.authorizeUrl(this.callbackUrl, state), 302);
  }

  @Get('auth/dottedsign/callback')
  async callback(@Query() query: Record<string, unknown>, @Headers('cookie') cookies: string | undefined, @Res() res: FastifyReply): Promise<void> {
    if (typeof query.error === 'string') {
      if (query.error === 'access_denied') {
        return this.page(res, 200, 'DottedSign not connected', 'You cancelled the connection. Nothing was changed; you can connect again from the app settings.');
      }
      // Anything else is DottedSign refusing the request (OAuth's error codes, RFC 6749 §4.1.2.1): say which.
      const code = query.error.replace(/[^\w.-]/g, '').slice(0, 64) || 'unknown';
      return this.page(res, 400, 'DottedSign not connected', `DottedSign refused the connection (${code}). Nothing was changed; try again from the app settings, or ask the app's provider if it happens again.`);
    }
    const state = this.signed.verify<{ companyId: string; userId: string; flow?: string; proof?: string }>(STATE_PURPOSE, query.state);
    if (!state) return this.page(res, 400, 'DottedSign not connected', 'The connection link expired or was altered. Start again from the app settings.');
    const forget = forgetFlow(state.flow, CALLBACK_PATH, this.secureCookies);
    if (forget) res.header('set-cookie', forget);
    if (!isSameBrowser(cookies, state)) {
      return this.page(res, 400, 'DottedSign not connected', 'This connection was started in another browser. Start again from the app settings in this browser.');
    }
    if (typeof query.code !== 'string' || !query.code) return this.page(res, 400, 'DottedSign not connected', 'DottedSign sent no authorization code. Start again from the app settings.');
    // The user may have been uninstalled or lost admin rights since the connection was started.
    const uninstalled = 'The app is no longer installed for you in this company.';
    if (!(await this.adminOrPage(res, state, 'DottedSign not connected', uninstalled))) return;
    try {
      const tokens = await this.client.exchangeCode(query.code, this.callbackUrl);
      const connection = await this.connections.connect(state.companyId, state.userId, 'oauth', tokens);
      this.page(res, 200, 'DottedSign connected', `DottedSign${connection.accountEmail ? ` (${connection.accountEmail})` : ''} is now connected. You can close this window and return to Pipedrive.`);
    } catch (error) {
      // Uninstalled while DottedSign answered. DottedSign offers no way to revoke the tokens it gave; they are dropped.
      if (error instanceof CompanyGoneError) return this.page(res, 403, 'DottedSign not connected', uninstalled);
      const permanent = error instanceof ProviderError && !error.retryable;
      this.logger.warn(`DottedSign connect failed for company ${state.companyId}: ${(error as Error).message}`);
      this.page(res, permanent ? 400 : 502, 'DottedSign not connected', permanent ? 'DottedSign refused the authorization (it may have expired). Start again from the app settings.' : 'DottedSign could not be reached. Please try again in a minute.');
    }
  }

  /** Single-tenant deployments and the sandbox: act as the DottedSign application's own account. */
  @Post('api/dottedsign/connect-app-account')
  @HttpCode(200)
  @UseGuards(PanelAuthGuard)
  async connectAppAccount(@CurrentPanelUser() user: PanelUser) {
    if (!this.config.dottedsign.appAccount) {
      throw ApiError.forbidden('Connect your company’s own DottedSign account with “Connect DottedSign”: this server does not offer the app’s account');
    }
    await this.requireAdmin(user);
    try {
      const tokens = await this.client.clientCredentials();
      const connection = await this.connections.connect(user.companyId, user.userId, 'client_credentials', tokens);
      return { connected: true, account: connection.accountEmail };
    } catch (error) {
      if (error instanceof CompanyGoneError) throw adminCheckError('not_installed', 'change the DottedSign connection');
      if (error instanceof ProviderError) throw new ApiError(502, 'dottedsign_unavailable', `DottedSign refused the connection: ${error.message}`);
      throw error;
    }
  }

  @Delete('api/dottedsign/connection')
  @UseGuards(PanelAuthGuard)
  async disconnect(@CurrentPanelUser() user: PanelUser) {
    await this.requireAdmin(user);
    return { disconnected: await this.connections.disconnect(user.companyId) };
  }

  private requireAdmin(user: PanelUser): Promise<void> {
    return this.admins.requireAdmin(user.companyId, user.userId, 'change the DottedSign connection');
  }

  /** The OAuth window's pages: true for a confirmed admin, otherwise a page that says why and false. */
  private async adminOrPage(res: FastifyReply, user: { companyId: string; userId: string }, title: string, notInstalled: string): Promise<boolean> {
    const outcome = await this.admins.check(user.companyId, user.userId);
    if (outcome === 'admin') return true;
    const error = adminCheckError(outcome, 'change the DottedSign connection');
    const body = error.getResponse() as { error: { message: string } };
    this.page(res, error.getStatus(), title, outcome === 'not_installed' ? notInstalled : body.error.message);
    return false;
  }

  private page(res: FastifyReply, status: number, title: string, message: string): void {
    sendHtml(res, status, resultPage({ title, message }));
  }
}
