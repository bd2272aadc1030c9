import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { settledValue } from '../common/settled';
import { fileNameFrom } from '../common/file-name';
import { DottedSignConnections } from '../dottedsign/dottedsign-connections.service';
import type { InboxEvent } from '../inbox/inbox-event.entity';
import { InboxService, type Outcome } from '../inbox/inbox.service';
import { PipedriveApiError } from '../pipedrive/pipedrive.errors';
import type { PipedriveApi } from '../pipedrive/pipedrive.client';
import type { PipedriveFile } from '../pipedrive/pipedrive.types';
import { CompanyContext, type CompanyContextValue } from './company-context.service';
import { type Contract, type ContractStatus, dealsOf } from './contract.entity';
import { applySignerEvent, isFinal, isOpen, mergeSigners, nextStatus } from './contract-status';
import { ContractSender, E_SIGN_PROVIDER } from './contract-sender.service';
import { type ContractKey, ContractsRepository, type TimelineEntry } from './contracts.repository';
import { DealNotes } from './deal-notes.service';
import { type ESignProvider, ProviderError, type ProviderSession, type SignTask, type TaskFileKind, type TaskStatus } from './esign-provider.port';

/** Provider actions that move the task's status, and the status they mean. */
const STATUS_OF_ACTION: Record<string, TaskStatus> = { created: 'draft', sent: 'waiting', completed: 'completed', declined: 'declined', voided: 'voided', expired: 'expired' };
const SIGNER_ACTIONS = { viewed: 'viewed', signed: 'signed', declined: 'declined' } as const;
export const TASK_DELETED = 'DottedSign reports this signing task deleted. Void the contract to end it here.';

export const TASK_ACTIONS = ['created', 'sent', 'viewed', 'signed', 'completed', 'declined', 'voided', 'expired'];
const FILE_LABELS: Record<TaskFileKind, string> = { completed: 'signed', audit_trail: 'audit trail' };

/** A write-back step on the locked, freshly read contract: changes it in memory and returns its timeline line, or null if it had nothing to do. */
type StepWork = (contract: Contract) => Promise<TimelineEntry | null>;

interface StoredEvent {
  action: string;
  taskId: string;
  metadata?: Record<string, string>;
  actorEmail: string | null;
  occurredAt: string;
}

/**
 * What happens when signing moves on: the timeline and status follow the provider's events (forward only), and
 * a final state triggers the company's write-back to Pipedrive, each step once and recorded.
 */
@Injectable()
export class SigningOutcomes {
  private readonly logger = new Logger(SigningOutcomes.name);
  /** Write-backs running in this process that have read their contract as final, by contract id. */
  private readonly writingBack = new Map<string, Promise<void>>();

  constructor(
    inbox: InboxService,
    @Inject(E_SIGN_PROVIDER) private readonly provider: ESignProvider,
    private readonly contracts: ContractsRepository,
    private readonly connections: DottedSignConnections,
    private readonly context: CompanyContext,
    private readonly notes: DealNotes,
    private readonly sender: ContractSender,
  ) {
    for (const action of TASK_ACTIONS) inbox.handle('dottedsign', `task:${action}`, (event) => this.onWebhook(event));
  }

  private async onWebhook(inboxEvent: InboxEvent): Promise<Outcome> {
    const event = (inboxEvent.payload as { event: StoredEvent }).event;
    const contract = (await this.contracts.byTask(this.provider.name, event.taskId)) ?? (await this.awaitBinding(event));
    if (!contract) {
      this.logger.warn(`DottedSign ${event.action} for task ${event.taskId}: no contract is bound to it`);
      return { status: 'ignored', reason: `no contract for task ${event.taskId}` };
    }
    if (recordedWhenBound(contract, event)) return { status: 'processed', reason: 'already recorded when the task was bound' };
    const applied = await this.applyEvent(contract, event);
    if (isFinal(applied.status)) await this.writeBack(applied, applied);
    return { status: 'processed' };
  }

  /**
   * A task's first webhooks can overtake the transaction that binds it to its contract. When the task's
   * metadata names one of our contracts and the binding has not committed yet, the adoption waits for the deal lock
   * (the binding commits under it) and binds the task itself if the try that created it died; if the contract is
   * still unbound after that, fail so the job retries instead of dropping the event.
   */
  private async awaitBinding(event: StoredEvent): Promise<Contract | null> {
    const contractId = event.metadata?.pipedrive_contract_id;
    if (!contractId || !/^\d{1,18}$/.test(contractId)) return null;
    const named = await this.contracts.byId(contractId);
    if (!named || !dealsOf(named).includes(String(event.metadata?.pipedrive_deal_id))) return null;
    if (named.taskId === event.taskId) return named;
    const bound = await this.sender.adoptNamedTask(named, event.taskId);
    if (bound?.taskId === event.taskId) return bound;
    if (bound && !bound.taskId && ['pending', 'failed', 'needs_signer'].includes(bound.status)) {
      throw new Error(`task ${event.taskId} is not bound to contract ${contractId} yet`);
    }
    return null;
  }

  /** One provider event onto the contract: timeline line, signer progress, status (never backwards); answers the contract as committed. */
  private async applyEvent(key: ContractKey, event: StoredEvent): Promise<Contract> {
    return this.contracts.withLockedContract(key, async (manager, locked) => {
      const contract = locked!;
      const at = new Date(event.occurredAt);
      const reason = event.action === 'declined' ? await this.declineReason(contract) : null;
      let signers = contract.signers;
      const signerStatus = SIGNER_ACTIONS[event.action as keyof typeof SIGNER_ACTIONS];
      if (signerStatus) signers = applySignerEvent(signers, event.actorEmail, signerStatus, at, reason);
      if (event.action === 'completed') signers = signers.map((signer) => (signer.status === 'signed' ? signer : { ...signer, status: 'signed', signedAt: signer.signedAt ?? at.toISOString() }));
      const reported = STATUS_OF_ACTION[event.action];
      const status = reported ? nextStatus(contract.status, reported) : contract.status;
      return this.contracts.update(
        manager,
        contract.id,
        { signers, status, statusReason: reasonAfter(contract, status, reason) },
        { type: event.action, actor: event.actorEmail, at, details: reason ? { reason } : {}, dedupeKey: timelineKey(event) },
      );
    });
  }

  /** The task as the provider has it now (reconciliation): status and signers, through the same rules. */
  async applyTask(key: ContractKey, task: SignTask): Promise<void> {
    await this.contracts.withLockedContract(key, async (manager, locked) => {
      const contract = locked!;
      const status = nextStatus(contract.status, task.status);
      await this.contracts.update(
        manager,
        contract.id,
        {
          status,
          statusReason: reasonAfter(contract, status, task.declineReason),
          signers: mergeSigners(contract.signers, task.signers),
          lastCheckedAt: new Date(),
        },
        ...(status !== contract.status
          ? [{ type: status, details: { via: 'reconciliation', ...(task.declineReason ? { reason: task.declineReason } : {}) }, dedupeKey: status }]
          : []),
      );
    });
  }

  /**
   * DottedSign reports the task deleted while its contract is open (deleted in its web app, the webhook of its
   * voiding lost). The contract keeps its status: the same answer could come for a task that had been signed, or,
   * by an unconfirmed reading, for a task of an account the company no longer connects. It carries the fact as its
   * reason and a timeline line, once, and the panel's Void ends it. Answers whether the contract changed.
   */
  async markTaskDeleted(key: ContractKey, taskId: string): Promise<boolean> {
    return this.contracts.withLockedContract(key, async (manager, contract) => {
      if (!contract || contract.taskId !== taskId || !isOpen(contract.status) || contract.statusReason === TASK_DELETED) return false;
      await this.contracts.update(manager, contract.id, { statusReason: TASK_DELETED, lastCheckedAt: new Date() }, { type: 'task_deleted', details: { via: 'reconciliation' }, dedupeKey: 'task_deleted' });
      return true;
    });
  }

  /**
   * The company's chosen effects of a final state, each step done once and recorded. The steps run in one
   * transaction under the deal lock: if one fails, the retry repeats the earlier ones, and each finds its effect
   * on the deal (the deal's status, a file or note carrying this contract's name) instead of doing it twice. A
   * step Pipedrive refuses for good (deleted or archived deal, a 4xx) is recorded as skipped with the reason,
   * never retried in a loop.
   * Safe to call any number of times. A call while this process is already writing back the same contract joins
   * that run (a task's `signed` and `completed` webhooks arrive together), but only once the run has read the
   * contract as final: a run that read it earlier may have missed the change that made it final. `committed`: the
   * contract as the caller has just committed it, which saves reading it again.
   */
  async writeBack(key: ContractKey, committed?: Contract): Promise<void> {
    const running = this.writingBack.get(key.id);
    if (running) return running;
    const contract = committed ?? (await this.contracts.byId(key.id));
    if (!contract || !isFinal(contract.status) || contract.status === 'discarded' || contract.effects.writeBackDone) return;
    const run: Promise<void> = this.writeBackSteps(contract).finally(() => {
      if (this.writingBack.get(key.id) === run) this.writingBack.delete(key.id);
    });
    this.writingBack.set(key.id, run);
    return run;
  }

  private async writeBackSteps(contract: Contract): Promise<void> {
    const context = await this.context.load(contract.companyId);
    if (!context) return;
    await this.contracts.withLockedContract(contract, async (manager, current, dealDeleted) => {
      // Done while this run waited for the deal's lock: by another process's run, or by the deal's delete, which
      // leaves nothing to write to the deleted deal.
      if (!current || current.effects.writeBackDone) return;
      const timeline: TimelineEntry[] = [];
      for (const [name, work] of dealDeleted ? [] : await this.writeBackPlan(context, current)) {
        const line = await this.step(current, name, work);
        if (line) timeline.push(line);
      }
      // One statement records every step with the done marker. They commit together anyway: after a rollback the
      // retry finds the remote effects on the deal instead of repeating them.
      const effects = { ...current.effects, writeBackDone: new Date().toISOString() };
      await this.contracts.update(manager, current.id, { effects, files: current.files }, ...timeline);
    });
  }

  /** The write-back steps the company's settings ask for, for a contract whose deal is not deleted. */
  private async writeBackPlan(context: CompanyContextValue, contract: Contract): Promise<Array<[name: string, work: StepWork]>> {
    const steps: Array<[name: string, work: StepWork]> = [];
    const api = await this.context.pipedrive(context);
    if (contract.status === 'completed') {
      if (context.settings.onCompleted.action !== 'none') steps.push(['deal', (current) => this.updateDeal(api, context, current)]);
      if (context.settings.attachFiles) {
        const session = await this.connections.session(contract.companyId);
        let listing: Promise<PipedriveFile[]> | undefined;
        const dealFiles = () => (listing ??= api.dealFiles(Number(contract.dealId)));
        for (const kind of ['completed', 'audit_trail'] as const) {
          steps.push([`file:${kind}`, (current) => this.attach(api, session, current, kind, dealFiles)]);
        }
      }
    }
    if (context.settings.writeNotes) steps.push(['note', (current) => this.note(api, current)]);
    return steps;
  }

  /** One write-back step on the locked contract; a step Pipedrive or DottedSign refuses for good is recorded as skipped. */
  private async step(contract: Contract, name: string, work: StepWork): Promise<TimelineEntry | null> {
    if (contract.effects.skipped?.[name]) return null;
    try {
      return await work(contract);
    } catch (error) {
      const reason = permanentRefusal(error);
      if (!reason) throw error;
      this.logger.warn(`contract ${contract.id}: write-back step ${name} skipped: ${reason}`);
      contract.effects = { ...contract.effects, skipped: { ...contract.effects.skipped, [name]: reason } };
      return { type: 'write_back_skipped', details: { step: name, reason }, dedupeKey: `skipped:${name}` };
    }
  }

  private async updateDeal(api: PipedriveApi, context: CompanyContextValue, contract: Contract): Promise<TimelineEntry | null> {
    if (contract.effects.dealUpdated || contract.effects.dealUpdateSkipped) return null;
    const target = context.settings.onCompleted;
    const deal = await api.deal(Number(contract.dealId));
    let skipped: string | null = null;
    if (!deal || deal.isDeleted) skipped = 'the deal no longer exists';
    else if (deal.isArchived) skipped = 'the deal is archived, so it cannot be changed through the API';
    else if (target.action === 'won' && deal.status === 'won') skipped = null;
    else if (target.action === 'won' && deal.status === 'lost') skipped = 'the deal is already marked lost';
    else if (target.action === 'stage' && deal.stageId === target.stageId) skipped = null;
    else {
      try {
        await api.updateDeal(deal.id, target.action === 'won' ? { status: 'won' } : { stageId: target.stageId! });
      } catch (error) {
        if (!(error instanceof PipedriveApiError) || error.retryable || refusesTheUser(error)) throw error;
        skipped = `Pipedrive refused the change (${error.message})`;
      }
    }
    contract.effects = skipped ? { ...contract.effects, dealUpdateSkipped: skipped } : { ...contract.effects, dealUpdated: new Date().toISOString() };
    return {
      type: skipped ? 'deal_update_skipped' : target.action === 'won' ? 'deal_won' : 'deal_moved',
      details: skipped ? { reason: skipped } : target.action === 'stage' ? { stageId: target.stageId } : {},
      dedupeKey: 'deal_update',
    };
  }

  /**
   * Downloads the file from the provider and attaches it to the deal, unless a previous try already did. The
   * deal's files are listed once per write-back, under the lock, for both kinds.
   */
  private async attach(
    api: PipedriveApi,
    session: ProviderSession,
    contract: Contract,
    kind: TaskFileKind,
    dealFiles: () => Promise<PipedriveFile[]>,
  ): Promise<TimelineEntry | null> {
    if (contract.files.some((file) => file.kind === kind) || !contract.taskId) return null;
    if (contract.effects.dealUpdateSkipped === 'the deal no longer exists') return null;
    // The title part may come back from Pipedrive changed; the suffix is ours, ASCII, and names the contract.
    const suffix = ` - ${FILE_LABELS[kind]} (contract ${contract.id}).pdf`;
    const fileName = `${fileNameFrom(contract.title, 150)}${suffix}`;
    // Downloaded while the deal's files are listed: only a retry after an unrecorded upload finds the file there.
    const [files, content] = await Promise.allSettled([dealFiles(), this.provider.download(session, contract.taskId, kind)]);
    const existing = settledValue(files).find((file) => file.name.endsWith(suffix));
    const fileId = existing?.id ?? (await api.uploadDealFile(Number(contract.dealId), fileName, settledValue(content))).id;
    contract.files = [...contract.files, { kind, pipedriveFileId: fileId }];
    return { type: 'file_attached', details: { kind, pipedriveFileId: fileId }, dedupeKey: `file:${kind}` };
  }

  private async note(api: PipedriveApi, contract: Contract): Promise<TimelineEntry | null> {
    if (contract.effects.dealUpdateSkipped === 'the deal no longer exists') return null;
    const title = contract.title || 'The contract';
    const who = (status: string) => contract.signers.filter((signer) => signer.status === status);
    const names = (list: typeof contract.signers) => list.map((signer) => `${signer.name} (${signer.email})`).join(', ');
    const lines: Record<string, string[]> = {
      completed: [
        `Contract "${title}" was signed by ${names(who('signed')) || 'all signers'} on ${lastSignedAt(contract)}.`,
        ...(contract.effects.dealUpdateSkipped ? [`The deal was not updated: ${contract.effects.dealUpdateSkipped}.`] : []),
        ...(['completed', 'audit_trail'] as const).flatMap((kind) => {
          const reason = contract.effects.skipped?.[`file:${kind}`];
          return reason ? [`The ${FILE_LABELS[kind]} PDF was not attached: ${reason}.`] : [];
        }),
      ],
      declined: [`Contract "${title}" was declined${who('declined').length ? ` by ${names(who('declined'))}` : ''}.`, `Reason: ${contract.statusReason ?? 'none given'}.`],
      voided: [`Contract "${title}" was voided${contract.statusReason ? `: ${contract.statusReason}` : ''}.`],
      expired: [`Contract "${title}" expired before everyone signed.`],
    };
    const paragraphs = lines[contract.status];
    return paragraphs ? this.notes.ensure(api, contract, contract.status, paragraphs) : null;
  }

  private async declineReason(contract: Contract): Promise<string | null> {
    if (!contract.taskId) return null;
    try {
      const task = await this.provider.get(await this.connections.session(contract.companyId), contract.taskId);
      return task?.declineReason ?? null;
    } catch (error) {
      // A passing outage would lose the signer's reason for good (the status moves only once): retry the event.
      if (error instanceof ProviderError && error.retryable) throw error;
      return null;
    }
  }
}

/**
 * One timeline line per status change and per signer step, whichever way we learnt of it (our own call, a
 * webhook, a redelivery with another timestamp, or reconciliation).
 */
function timelineKey(event: StoredEvent): string {
  return event.action in SIGNER_ACTIONS ? `${event.action}:${event.actorEmail ?? ''}` : event.action;
}

/**
 * A decline brings its reason. Any news of the task (an event, a read) shows it alive, which drops the note that
 * DottedSign had reported it deleted.
 */
function reasonAfter(contract: Contract, status: ContractStatus, declineReason: string | null): string | null {
  if (status !== contract.status && status === 'declined') return declineReason;
  return contract.statusReason === TASK_DELETED ? null : contract.statusReason;
}

/**
 * DottedSign's `created` and `sent` for a task we bound ourselves: binding recorded both lines and the status in
 * the same transaction, so unless the event moves the status on (a draft started later) it adds nothing.
 */
function recordedWhenBound(contract: Contract, event: StoredEvent): boolean {
  const reported = STATUS_OF_ACTION[event.action];
  return (event.action === 'created' || event.action === 'sent') && contract.taskId === event.taskId && nextStatus(contract.status, reported) === contract.status;
}

/**
 * Pipedrive refusing the acting user rather than the change (the authorization gone, the deal hidden from them) can
 * pass: a role or visibility changed back, another admin acting. The step waits for it, as reconciliation does.
 */
function refusesTheUser(error: PipedriveApiError): boolean {
  return error.status === 401 || error.status === 403;
}

/**
 * Why a step can never succeed, or null when trying again may help. DottedSign refusing the task's files (the task
 * deleted there, or the account connected now cannot see it) is permanent; its other errors may pass.
 */
function permanentRefusal(error: unknown): string | null {
  if (error instanceof PipedriveApiError && !error.retryable && !refusesTheUser(error)) {
    return error.status === 404 ? 'the deal no longer exists in Pipedrive' : `Pipedrive refused it (${error.message})`;
  }
  // A refused authorization is not about the task: reconnecting mends it.
  if (error instanceof ProviderError && !error.retryable && error.key !== 'reconnect_required' && [403, 404, 410].includes(error.status ?? 0)) {
    return `DottedSign refused it (${error.message})`;
  }
  return null;
}

function lastSignedAt(contract: Contract): string {
  const times = contract.signers.map((signer) => Date.parse(signer.signedAt ?? '')).filter(Number.isFinite);
  const last = new Date(times.length ? Math.max(...times) : contract.updatedAt.getTime()).toISOString();
  return `${last.slice(0, 10)} ${last.slice(11, 16)} UTC`;
}
