import { Controller, Get, Param, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../common/api-error';
import { type ContractFile, ContractFiles } from './contract-files.service';
import { CurrentPanelUser, PanelAuthGuard, type PanelUser } from './panel-auth.guard';

/** A completed contract's PDFs: through the API (Bearer), or through a signed link the panel opens in a new tab. */
@Controller()
export class ContractFilesController {
  constructor(private readonly files: ContractFiles) {}

  @Get('api/contracts/:id/files/:kind')
  @UseGuards(PanelAuthGuard)
  async viaApi(@CurrentPanelUser() user: PanelUser, @Param('id') id: string, @Param('kind') kind: string, @Res() res: FastifyReply): Promise<void> {
    send(res, await this.files.fetch(user.companyId, id, kind));
  }

  @Get('downloads/contract-file')
  async viaLink(@Query('token') token: unknown, @Res() res: FastifyReply): Promise<void> {
    res.header('Cache-Control', 'no-store');
    const link = this.files.fromLink(typeof token === 'string' ? token : undefined);
    if (!link) throw ApiError.unauthorized('This download link has expired. Open the deal in Pipedrive again to get a fresh one.');
    send(res, await this.files.fetch(link.companyId, link.contractId, link.kind));
  }
}

function send(res: FastifyReply, file: ContractFile): void {
  res
    .code(200)
    .headers({ 'Content-Type': 'application/pdf', 'Cache-Control': 'no-store', 'Content-Disposition': `inline; filename="${file.fileName}"` })
    .send(file.content);
}
