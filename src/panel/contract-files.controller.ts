import { Controller, Get, Param, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { resultPage, sendHtml } from '../common/html-page';
import { validate } from '../common/validation';
import { type ContractFile, ContractFiles } from './contract-files.service';
import { PanelAccess } from './panel-access.service';
import { CurrentPanelUser, PanelAuthGuard, type PanelUser } from './panel-auth.guard';
import { recordId } from './record-id';

const LINK_FAILURE_TITLE: Record<number, string> = {
  401: 'Download link expired',
  404: 'File not found',
  409: 'DottedSign not connected',
  502: 'DottedSign did not answer',
};

/**
 * A completed contract's PDFs: through the API (Bearer, JSON errors), or through a signed link the panel opens in
 * a new tab. Only a browser tab ever opens a link, so a link that fails answers a short HTML page, not JSON.
 */
@Controller()
export class ContractFilesController {
  constructor(
    private readonly files: ContractFiles,
    private readonly access: PanelAccess,
  ) {}

  @Get('api/contracts/:id/files/:kind')
  @UseGuards(PanelAuthGuard)
  async viaApi(@CurrentPanelUser() user: PanelUser, @Param('id') id: string, @Param('kind') kind: string, @Res() res: FastifyReply): Promise<void> {
    send(res, await this.files.download(await this.access.contract(user, validate(recordId, id)), kind));
  }

  @Get('downloads/contract-file')
  async viaLink(@Query('token') token: unknown, @Res() res: FastifyReply): Promise<void> {
    res.header('Cache-Control', 'no-store');
    const link = this.files.fromLink(typeof token === 'string' ? token : undefined);
    if (!link) {
      linkFailure(res, 401, 'This download link has expired or is not valid: links to a contract’s files last a few minutes. Open the file again from the DottedSign panel of the deal in Pipedrive.');
      return;
    }
    let file: ContractFile;
    try {
      file = await this.files.fetch(link.companyId, link.contractId, link.kind);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const body = error.getResponse() as { error?: { message?: string } };
      linkFailure(res, error.getStatus(), body.error?.message ?? 'The file could not be fetched.');
      return;
    }
    send(res, file);
  }
}

function linkFailure(res: FastifyReply, status: number, message: string): void {
  sendHtml(res, status, resultPage({ title: LINK_FAILURE_TITLE[status] ?? 'File not available', message }));
}

function send(res: FastifyReply, file: ContractFile): void {
  res
    .code(200)
    .headers({ 'Content-Type': 'application/pdf', 'Cache-Control': 'no-store', 'Content-Disposition': `inline; filename="${file.fileName}"` })
    .send(file.content);
}
