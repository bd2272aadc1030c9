import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { InboxEvent } from '../inbox/inbox-event.entity';
import { InboxService, type Outcome } from '../inbox/inbox.service';
import { DottedSignConnections, NotConnectedError } from '../dottedsign/dottedsign-connections.service';
import { parsePipedriveEvent } from '../pipedrive/pipedrive-event';
import { PipedriveApiError, PipedriveRateLimitedError } from '../pipedrive/pipedrive.errors';
import { CompanyContext } from './company-context.service';
import type { Contract } from './contract.entity';
import { ContractSender, E_SIGN_PROVIDER } from './contract-sender.service';
import { ContractsRepository } from './contracts.repository';
import { isFinal, mergeSigners, nextStatus } from './contract-status';
import { type ESignProvider, FINAL_STATUSES, ProviderError, type ProviderSession, type SignTask } from './esign-provider.port';

/** The inbox event type of a deal found by `DealSweep`; its payload is an `AddedDeal`. */
export const DEAL_MISSED = 'deal:missed';

/** What auto-send needs of a new deal, from its create webhook or from the sweep. */
export interface AddedDeal {
  id: string;
  pipelineId: number;
  title: string;
  /** The contact the create webhook (or the sweep's list) named; the sender still checks it against the deal. */
  personId?: number | null;
}

const DEAL_DELETED = 'The deal was deleted in Pipedrive';

/** DottedSign will not do this for us, now or on a retry: no connection, or a refusal that is not passing. */
function permanentlyRefused(error: unknown): boolean {
  return error instanceof NotConnectedError || (error instanceof ProviderError && !error.retryable);
}

/** The contract a deal gets automatically; its key makes it one per deal. */
export function autoSendIntentKey(dealId: string): string {
  return `deal-created:${dealId}`;
}

function personIdOf(value: unknown): number | null {
  return Number.isSafeInteger(value) && (value as number) > 0 ? (value as number) : null;
}

function addedDeal(payload: unknown): AddedDeal | null {
  const deal = payload as Partial<AddedDeal> | null;
  if (!deal || typeof deal.id !== 'string' || !/^\d{1,18}$/.test(deal.id) || typeof deal.pipelineId !== 'number' || typeof deal.title !== 'string') return null;
  return { id: deal.id, pipelineId: deal.pipelineId, title: deal.title, personId: personIdOf(deal.personId) };
}

/** Pipedrive deal events → contracts: deal added (or found by the sweep) sends the contract, deal deleted ends its tasks. */
@Injectable()
export class DealSync {
  private readonly logger = new Logger(DealSync.name);

  constructor(
    inbox: InboxService,
    @Inject(E_SIGN_PROVIDER) private readonly provider: ESignProvider,
    private readonly contracts: ContractsRepository,
    private readonly sender: ContractSender,
    private readonly context: CompanyContext,
    private readonly connections: DottedSignConnections,
  ) {
    inbox.handle('pipedrive', 'deal:create', (event, attempt) => this.dealCreated(event, attempt));
    inbox.handle('pipedrive', 'deal:delete', (event, attempt) => this.dealDeleted(event, attempt));
    inbox.handle('pipedrive', DEAL_MISSED, (event, attempt) => this.dealMissed(event, attempt));
  }

  async dealCreated(inboxEvent: InboxEvent, attempt: { finalAttempt: boolean }): Promise<Outcome> {
    const event = parsePipedriveEvent(inboxEvent.payload);
    if (!event || !inboxEvent.companyId) return { status: 'ignored', reason: 'unreadable event' };
    const title = typeof event.current?.title === 'string' ? event.current.title : '';
    const deal = { id: event.entityId, pipelineId: Number(event.current?.pipeline_id), title, personId: personIdOf(event.current?.person_id) };
    return this.autoSend(inboxEvent.companyId, deal, attempt);
  }

  /** A deal whose create webhook never came, found by `DealSweep`: handled as that webhook would have been. */
  async dealMissed(inboxEvent: InboxEvent, attempt: { finalAttempt: boolean }): Promise<Outcome> {
    const deal = addedDeal(inboxEvent.payload);
    if (!deal || !inboxEvent.companyId) return { status: 'ignored', reason: 'unreadable event' };
    return this.autoSend(inboxEvent.companyId, deal, attempt);
  }

  private async autoSend(companyId: string, deal: AddedDeal, attempt: { finalAttempt: boolean }): Promise<Outcome> {
    const context = await this.context.load(companyId);
    if (!context) return { status: 'ignored', reason: 'company not installed' };
    const { autoSend } = context.settings;
    if (!autoSend.enabled) return { status: 'ignored', reason: 'auto-send is off' };
    // The settings offer "no default template" as the way to send nothing automatically.
    if (!context.settings.templateId) return { status: 'ignored', reason: 'no default template is chosen' };
    if (autoSend.pipelineIds.length && !autoSend.pipelineIds.includes(deal.pipelineId)) {
      return { status: 'ignored', reason: `pipeline ${deal.pipelineId} is not selected for auto-send` };
    }
    // One automatic contract per deal, whatever the number of deliveries, create events or sweeps.
    const contract = await this.contracts.createIntent({
      companyId,
      dealId: deal.id,
      intentKey: autoSendIntentKey(deal.id),
      templateId: context.settings.templateId,
      title: deal.title,
    });
    const sent = await this.sender.send(contract, { ...attempt, context, personIdHint: deal.personId });
    return { status: 'processed', reason: sent ? `contract ${sent.id}: ${sent.status}` : undefined };
  }

  async dealDeleted(inboxEvent: InboxEvent, attempt: { finalAttempt: boolean }): Promise<Outcome> {
    const event = parsePipedriveEvent(inboxEvent.payload);
    if (!event || !inboxEvent.companyId) return { status: 'ignored', reason: 'unreadable event' };
    const companyId = inboxEvent.companyId;
    const dealId = event.entityId;
    if (event.mergedToId) {
      const { moved, intoDeleted } = await this.mergeDeal(companyId, dealId, event.mergedToId);
      // A merge delivered after the other deal's own delete: the moved contracts end with it.
      if (intoDeleted) await this.endDeal(companyId, event.mergedToId);
      return { status: 'processed', reason: `merged into deal ${event.mergedToId}: ${moved} contract(s) moved there` };
    }
    // A delivery retried after the deal was restored (Pipedrive retries for minutes) must not end its live contracts.
    if (await this.inPipedrive(companyId, dealId, attempt)) return { status: 'ignored', reason: 'the deal is in Pipedrive again (restored since its delete)' };
    const ended = await this.endDeal(companyId, dealId);
    return { status: 'processed', reason: `${ended} contract(s) ended` };
  }

  /**
   * A deal merged into another: its contracts follow it, as its files and notes do, and go on there (signing, the
   * write-back to the deal it went into). The merged deal is marked deleted, so a late create of it sends nothing.
   */
  async mergeDeal(companyId: string, dealId: string, intoId: string): Promise<{ moved: number; intoDeleted: boolean }> {
    return this.contracts.withDealLocks(companyId, [dealId, intoId], async (manager) => {
      await this.contracts.markDealDeleted(manager, companyId, dealId);
      const moved = await this.contracts.moveToDeal(manager, companyId, dealId, intoId);
      this.logger.log(`company ${companyId} deal ${dealId} merged into ${intoId}: ${moved} contract(s) moved`);
      return { moved, intoDeleted: moved > 0 && (await this.contracts.isDealDeleted(manager, companyId, intoId)) };
    });
  }

  /**
   * Whether Pipedrive shows the deal, not deleted. When it cannot say, the delete goes ahead as delivered: at once for
   * a spent rate limit (hours, perhaps) or a refusal, on the last try for a passing failure (which otherwise throws).
   */
  private async inPipedrive(companyId: string, dealId: string, attempt: { finalAttempt: boolean }): Promise<boolean> {
    const context = await this.context.load(companyId);
    if (!context) return false;
    try {
      const deal = await (await this.context.pipedrive(context)).deal(Number(dealId));
      return Boolean(deal && !deal.isDeleted);
    } catch (error) {
      if (error instanceof PipedriveApiError && error.retryable && !(error instanceof PipedriveRateLimitedError) && !attempt.finalAttempt) throw error;
      return false;
    }
  }

  /**
   * Marks the deal deleted (so a late create sends nothing) and ends its live tasks: a waiting one is voided, a draft
   * discarded, and one an earlier try created but never recorded is found by its metadata first. A contract that is
   * over keeps its task and status: a signed contract is a legal record, and Pipedrive can restore the deal for 30 days.
   */
  async endDeal(companyId: string, dealId: string): Promise<number> {
    const context = await this.context.load(companyId);
    if (!context) return 0;
    return this.contracts.withDealLock(companyId, dealId, async (manager) => {
      await this.contracts.markDealDeleted(manager, companyId, dealId);
      const contracts = await this.contracts.forDeal(companyId, dealId, manager);
      let session: ProviderSession | undefined;
      const dottedSign = async () => (session ??= await this.connections.session(companyId));
      let ended = 0;
      for (const contract of contracts) {
        if (contract.status === 'discarded') continue;
        if (isFinal(contract.status)) {
          await this.keepOver(manager, contract);
          continue;
        }
        let current = contract;
        if (!current.taskId) {
          let endedAtDottedSign = false;
          let reason = DEAL_DELETED;
          try {
            endedAtDottedSign = context.connection !== null && (await this.sender.endUnrecordedTasks(manager, await dottedSign(), current));
          } catch (error) {
            if (!permanentlyRefused(error)) throw error;
            // A task found and adopted, then refused its end, is handled below as a recorded one (it may have just been signed).
            const adopted = await this.contracts.byId(current.id, manager);
            if (adopted?.taskId) current = adopted;
            else reason = `${DEAL_DELETED}. DottedSign could not be searched for a task of it (${(error as Error).message}): if one was sent, end it in DottedSign`;
          }
          if (!current.taskId) {
            if (!endedAtDottedSign) {
              await this.contracts.update(manager, current.id, { status: 'discarded', statusReason: reason }, { type: 'discarded', details: { reason }, dedupeKey: 'discarded' });
            }
            ended += 1;
            continue;
          }
        }
        const taskId = current.taskId;
        let final: 'voided' | 'discarded' = 'discarded';
        let reason = DEAL_DELETED;
        try {
          const task = await this.provider.get(await dottedSign(), taskId);
          if (task && FINAL_STATUSES.has(task.status)) {
            // It ended at DottedSign before its webhook reached us.
            await this.keepOver(manager, { ...current, status: nextStatus(current.status, task.status), signers: mergeSigners(current.signers, task.signers) });
            continue;
          }
          if (task?.status === 'waiting') {
            await this.provider.void(await dottedSign(), taskId, DEAL_DELETED);
            final = 'voided';
          } else if (task?.status === 'draft') {
            await this.provider.discard(await dottedSign(), taskId);
          }
        } catch (error) {
          // One task DottedSign will never let us end (another account connected since, or none) must not keep the
          // deal's other contracts, and the delete itself, from being recorded: it is ended here with the reason.
          if (!permanentlyRefused(error)) throw error;
          // Refused because it ended meanwhile (the last signer signed as we voided it): it is kept as it ended.
          const now = error instanceof ProviderError ? await this.taskIfReadable(await dottedSign(), taskId) : null;
          if (now && FINAL_STATUSES.has(now.status)) {
            await this.keepOver(manager, { ...current, status: nextStatus(current.status, now.status), signers: mergeSigners(current.signers, now.signers) });
            continue;
          }
          reason = `${DEAL_DELETED}. Its DottedSign task could not be ended (${(error as Error).message}): end it in DottedSign if it is still out for signature`;
        }
        await this.contracts.update(manager, current.id, { status: final, statusReason: reason }, { type: final, details: { reason }, dedupeKey: final });
        ended += 1;
      }
      this.logger.log(`company ${companyId} deal ${dealId} deleted: ${ended} contract(s) ended`);
      return ended;
    });
  }

  /** The task as DottedSign has it now; null when DottedSign refuses to show it for good (a passing failure throws). */
  private async taskIfReadable(session: ProviderSession, taskId: string): Promise<SignTask | null> {
    try {
      return await this.provider.get(session, taskId);
    } catch (error) {
      if (permanentlyRefused(error)) return null;
      throw error;
    }
  }

  /** Records the delete on a contract that is over. Nothing is left to write back to the deleted deal (as `writeBack` finds too). */
  private async keepOver(manager: EntityManager, contract: Contract): Promise<void> {
    const effects = contract.effects.writeBackDone ? contract.effects : { ...contract.effects, writeBackDone: new Date().toISOString() };
    await this.contracts.update(
      manager,
      contract.id,
      { status: contract.status, signers: contract.signers, effects },
      { type: 'deal_deleted', details: { reason: DEAL_DELETED }, dedupeKey: 'deal_deleted' },
    );
  }
}
