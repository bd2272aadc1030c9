import { Body, Controller, Get, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ApiError } from '../common/api-error';
import { validate } from '../common/validation';
import { isForeignKeyViolation } from '../database/postgres-errors';
import { DottedSignConnections, NotConnectedError } from '../dottedsign/dottedsign-connections.service';
import { readSettings } from '../installations/company-settings';
import type { Contract } from '../signing/contract.entity';
import { ContractSender, E_SIGN_PROVIDER } from '../signing/contract-sender.service';
import { contractView, type TimelineLine } from '../signing/contract-view';
import { ContractsRepository } from '../signing/contracts.repository';
import { type ESignProvider, isTaskGone, ProviderError } from '../signing/esign-provider.port';
import { nextStatus } from '../signing/contract-status';
import { notInstalledError } from '../pipedrive/pipedrive-admins.service';
import { ContractFiles } from './contract-files.service';
import { DealSigners } from './deal-signers.service';
import { PanelAccess } from './panel-access.service';
import { CurrentPanelUser, PanelAuthGuard, type PanelUser } from './panel-auth.guard';
import { recordId } from './record-id';

const sendRequest = z
  .object({
    templateId: z.union([z.number().int().positive(), z.string().regex(/^\d{1,18}$/)]).transform(String).optional(),
    title: z.string().trim().min(1).max(255).optional(),
    signers: z
      .array(z.object({ name: z.string().trim().min(1).max(200), email: z.string().trim().email().max(320) }).strict())
      .min(1)
      .max(20),
    ordered: z.boolean().default(false),
    /**
     * The client's id of this send (the panel makes one per form content): a repeat of a request whose answer was
     * lost returns the contract the first one made instead of sending a second.
     */
    requestId: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/).optional(),
  })
  .strict();

/** The deal panel's API: every read and write is scoped to the company in the panel JWT. */
@Controller('api')
@UseGuards(PanelAuthGuard)
export class ContractsController {
  constructor(
    private readonly contracts: ContractsRepository,
    private readonly sender: ContractSender,
    private readonly access: PanelAccess,
    private readonly connections: DottedSignConnections,
    @Inject(E_SIGN_PROVIDER) private readonly provider: ESignProvider,
    private readonly files: ContractFiles,
    private readonly dealSigners: DealSigners,
  ) {}

  @Get('deals/:dealId/contracts')
  async list(@CurrentPanelUser() user: PanelUser, @Param('dealId') dealId: string) {
    const deal = validate(recordId, dealId);
    const [, contracts] = await Promise.all([this.access.dealUser(user, deal, 'records'), this.contracts.forDealWithTimeline(user.companyId, deal)]);
    return { contracts: contracts.map(({ contract, timeline }) => this.view(contract, timeline)) };
  }

  /** Signers to prefill the send form with: the deal's contact, or why there is none. */
  @Get('deals/:dealId/signers')
  async suggestedSigners(@CurrentPanelUser() user: PanelUser, @Param('dealId') dealId: string) {
    const deal = validate(recordId, dealId);
    await this.access.dealUser(user, deal, 'records');
    return this.dealSigners.suggest(user.companyId, user.userId, Number(deal));
  }

  @Post('deals/:dealId/contracts')
  @HttpCode(201)
  async send(@CurrentPanelUser() user: PanelUser, @Param('dealId') dealId: string, @Body() body: unknown) {
    const deal = validate(recordId, dealId);
    const request = validate(sendRequest, body ?? {});
    const company = await this.access.dealUser(user, deal, 'shown');
    const templateId = request.templateId ?? readSettings(company.settings).templateId;
    if (!templateId) throw ApiError.badRequest('templateId: choose a template (no default template is set)', [{ field: 'templateId', message: 'required' }]);
    const intent = await this.contracts.createIntent({
      companyId: user.companyId,
      dealId: deal,
      intentKey: `panel:${user.userId}:${request.requestId ?? randomUUID()}`,
      templateId,
      title: request.title ?? '',
      signers: request.signers.map((signer) => ({ ...signer, status: 'waiting', signedAt: null })),
      ordered: request.ordered,
      createdByUserId: user.userId,
    }).catch((error: unknown) => {
      // The company's last user uninstalled the app meanwhile: its data is gone.
      throw isForeignKeyViolation(error) ? notInstalledError() : error;
    });
    if (intent.dealId !== deal) throw ApiError.conflict('This requestId was already used to send a contract for another deal');
    const contract = await this.sender.send(intent, { finalAttempt: true });
    if (!contract) throw notInstalledError(); // erased while the send waited for its turn
    return { contract: (await this.views([contract]))[0] };
  }

  @Post('contracts/:id/retry')
  @HttpCode(200)
  async retry(@CurrentPanelUser() user: PanelUser, @Param('id') contractId: string) {
    const contract = await this.access.contract(user, validate(recordId, contractId));
    if (!['failed', 'needs_signer'].includes(contract.status)) throw ApiError.conflict(`A ${contract.status} contract cannot be retried`);
    const sent = await this.sender.send(contract, { finalAttempt: true });
    return { contract: (await this.views([sent!]))[0] };
  }

  @Post('contracts/:id/void')
  @HttpCode(200)
  async void(@CurrentPanelUser() user: PanelUser, @Param('id') contractId: string) {
    const contract = await this.access.contract(user, validate(recordId, contractId));
    const voided = await this.contracts.withLockedContract(contract, async (manager, current) => {
      if (!current) throw ApiError.notFound('Contract not found');
      if (!current.taskId || !['waiting', 'draft'].includes(current.status)) throw ApiError.conflict(`A ${current.status} contract cannot be voided`);
      let statusReason = 'Voided from Pipedrive';
      try {
        const session = await this.connections.session(current.companyId);
        if (current.status === 'waiting') await this.provider.void(session, current.taskId, 'Voided from Pipedrive');
        else await this.provider.discard(session, current.taskId);
      } catch (error) {
        if (error instanceof NotConnectedError) throw new ApiError(409, 'dottedsign_not_connected', 'Connect DottedSign in the app settings first');
        // Deleted in DottedSign already: nothing is left to end there.
        if (isTaskGone(error)) statusReason = 'Voided from Pipedrive; DottedSign had deleted the task';
        else if (error instanceof ProviderError) throw new ApiError(502, 'dottedsign_unavailable', `DottedSign did not void the contract: ${error.message}`);
        else throw error;
      }
      const status = current.status === 'waiting' ? nextStatus(current.status, 'voided') : 'discarded';
      return this.contracts.update(manager, current.id, { status, statusReason }, { type: status, actor: `user:${user.userId}`, dedupeKey: status });
    });
    return { contract: (await this.views([voided]))[0] };
  }

  private async views(contracts: Contract[]) {
    const events = await this.contracts.events(contracts.map((contract) => contract.id));
    return contracts.map((contract) => this.view(contract, events.filter((event) => event.contractId === contract.id)));
  }

  private view(contract: Contract, timeline: TimelineLine[]) {
    return { ...contractView(contract, timeline), downloads: this.files.links(contract) };
  }
}
