import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { readFile } from 'node:fs/promises';
import { resultPage, sendHtml } from '../common/html-page';
import { type AppConfig, CONFIG } from '../config/app-config';
import { type ClientPage, clientAsset, clientPage } from './client-assets';
import { PanelAccess } from './panel-access.service';
import { type PanelUser, verifyPanelToken } from './panel-auth.guard';
import { recordId } from './record-id';

/**
 * The iframe pages Pipedrive embeds (deal panel, app settings) and their static assets. A page is served only
 * for a valid panel JWT in `?token=`; its data then comes from /api with tokens from the SDK.
 */
@Controller()
export class PanelPagesController {
  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    private readonly access: PanelAccess,
  ) {}

  /** Pipedrive opens the deal panel with the deal's id in `selectedIds`. */
  @Get('panel')
  panel(@Query('token') token: unknown, @Query('selectedIds') selectedIds: unknown, @Res() res: FastifyReply): void {
    const user = this.page('panel', token, res);
    const dealId = typeof selectedIds === 'string' ? recordId.safeParse(selectedIds.split(',')[0]) : null;
    if (user) this.access.preparePage(user, dealId?.success ? dealId.data : null);
  }

  @Get('settings')
  settings(@Query('token') token: unknown, @Res() res: FastifyReply): void {
    const user = this.page('settings', token, res);
    if (user) this.access.preparePage(user, null);
  }

  /** Hashed file names: a new build gets new names, so they can be cached for good. */
  @Get('assets/:name')
  async asset(@Param('name') name: string, @Res() res: FastifyReply): Promise<void> {
    const asset = clientAsset(name);
    if (!asset) {
      res.code(404).type('text/plain; charset=utf-8').send('Not found');
      return;
    }
    res.header('Cache-Control', 'public, max-age=31536000, immutable').type(asset.contentType).send(await readFile(asset.file));
  }

  /** Sends the page; the user it was served to, or null when it was refused. */
  private page(page: ClientPage, token: unknown, res: FastifyReply): PanelUser | null {
    res.header('Cache-Control', 'no-store');
    const user = typeof token === 'string' ? verifyPanelToken(token, this.config.pipedrive.jwtSecret) : null;
    if (!user) {
      sendHtml(res, 401, resultPage({ title: 'Session expired', message: 'This view could not confirm who you are (its link is missing, altered or expired). Reload the page in Pipedrive to open it again.' }));
      return null;
    }
    const html = clientPage(page);
    if (!html) {
      sendHtml(res, 503, resultPage({ title: 'Not available', message: 'The app’s interface is not built on this server (run npm run build).' }));
      return null;
    }
    sendHtml(res, 200, html);
    return user;
  }
}
