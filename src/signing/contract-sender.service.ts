import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { settledValue } from '../common/settled';
import { DottedSignConnections, NotConnectedError } from '../dottedsign/dottedsign-connections.service';
import type { PipedriveApi } from '../pipedrive/pipedrive.client';
import type { PipedriveDeal, PipedrivePerson } from '../pipedrive/pipedrive.types';
import { CompanyContext, type CompanyContextValue, NoActingInstallationError } from './company-context.service';
import { type Contract, dealsOf } from './contract.entity';
import { type ContractChange, type ContractKey, ContractsRepository } from './contracts.repository';
import { DealNotes } from './deal-notes.service';
import { type ESignProvider, FINAL_STATUSES, ProviderError, type ProviderSession, type SignTask } from './esign-provider.port';
import { mergeSigners, nextStatus } from './contract-status';

export const E_SIGN_PROVIDER = Symbol('ESignProvider');

interface DealRead {
  api: PipedriveApi;
  deal: PipedriveDeal | null;
  person: PipedrivePerson | null;
}

/** Contract statuses in which a send may still create (or adopt) the contract's task. */
const AWAITING_TASK: ReadonlyArray<Contract['status']> = ['pending', 'failed', 'needs_signer'];

const NOT_CONNECTED = 'DottedSign is not connected. Connect it in the app settings, then press Retry.';

/** DottedSign trouble after which a create may have gone through unseen (a timeout, a 5xx, a lost connection). */
const outcomeUnknown = (error: unknown) => error instanceof ProviderError && error.retryable;

/** Provider error keys whose cause is the company's set-up: shown to the user, not retried. */
const COMPANY_ERRORS: Record<string, string> = {
  over_monthly_task_usage: 'The DottedSign monthly task quota is used up. Upgrade the DottedSign plan or wait for next month, then press Retry.',
  template_not_accessible: 'The chosen contract template is not accessible to the connected DottedSign account. Choose another template in the app settings.',
  invalid_params: 'DottedSign rejected the contract',
  invalid_token: 'The DottedSign connection is no longer valid. Reconnect DottedSign in the app settings.',
  invalid_client: 'The DottedSign connection is no longer valid. Reconnect DottedSign in the app settings.',
  reconnect_required: 'The DottedSign connection is no longer valid. Reconnect DottedSign in the app settings.',
};

/**
 * Sends a recorded contract intent as a signing task, exactly once: under the deal's lock, it first looks
 * for a task already carrying this contract's id in its metadata (a previous try that crashed after DottedSign
 * answered) and adopts it; only then creates one. A deleted deal ends with no live task.
 */
/**
 * `finalAttempt`: no retry follows this try, so a passing failure is recorded as failed. `context`: the company's
 * context when the caller has just read it (saves reading it again). `personIdHint`: the deal's contact as the create
 * webhook named it, read beside the deal (see `readDeal`).
 */
interface SendOptions {
  finalAttempt: boolean;
  context?: CompanyContextValue;
  personIdHint?: number | null;
}

@Injectable()
export class ContractSender {
  private readonly logger = new Logger(ContractSender.name);

  constructor(
    @Inject(E_SIGN_PROVIDER) private readonly provider: ESignProvider,
    private readonly contracts: ContractsRepository,
    private readonly connections: DottedSignConnections,
    private readonly context: CompanyContext,
    private readonly notes: DealNotes,
  ) {}

  /** Sends the contract unless it has its task or is over; a passing failure throws (the caller's job retries). */
  async send(key: ContractKey, options: SendOptions): Promise<Contract | null> {
    try {
      return await this.sendLocked(key, options);
    } catch (error) {
      // A passing failure: the job tries again later. Meanwhile the panel shows why the contract is still unsent.
      const reason = `Not sent yet: ${(error as Error).message}. Trying again automatically.`;
      await this.contracts.noteSendDelayed(key.id, reason).catch(() => undefined);
      throw error;
    }
  }

  private sendLocked(key: ContractKey, options: SendOptions): Promise<Contract | null> {
    return this.contracts.withLockedContract(key, async (manager, contract, dealDeleted) => {
      if (!contract) return null;
      if (contract.taskId || !AWAITING_TASK.includes(contract.status)) return contract;
      const context = options.context ?? (await this.context.load(contract.companyId));
      if (!context) return contract;
      if (!context.connection) return this.fail(manager, contract, 'failed', NOT_CONNECTED);
      let session: ProviderSession | undefined;
      try {
        // A disconnect since the context was read shows up here, or at the first call as the token is read.
        session = await this.connections.session(contract.companyId);
        // The deal is read while DottedSign is searched for an earlier try's task: sending needs both, and only
        // the rare adoption makes the read unneeded.
        const [earlierTasks, dealRead] = await Promise.allSettled([this.earlierTasks(session, contract), this.readDeal(context, contract, options.personIdHint)]);
        const found = settledValue(earlierTasks);
        if (found.length) {
          return await this.adoptFound(manager, session, contract, found);
        }
        if (dealDeleted) {
          const deal = dealRead.status === 'fulfilled' ? dealRead.value.deal : null;
          if (!deal || deal.isDeleted) return this.fail(manager, contract, 'discarded', 'The deal was deleted before the contract was sent');
          // Restored in Pipedrive since its delete (possible for 30 days): it takes contracts again.
          await this.contracts.forgetDealDeleted(manager, contract.companyId, contract.dealId);
        }
        return await this.create(manager, session, context, contract, settledValue(dealRead));
      } catch (error) {
        if (session && options.finalAttempt && outcomeUnknown(error)) {
          // The create may have gone through with its answer lost (a timeout, a 5xx from a proxy). No retry comes
          // after this try to find that task, so look for it once before calling the contract failed.
          const found = await this.earlierTasks(session, contract).catch(() => []);
          if (found.length) {
            return await this.adoptFound(manager, session, contract, found);
          }
        }
        return this.handleFailure(manager, contract, error, options.finalAttempt);
      }
    });
  }

  /**
   * The provider's webhook names a task of this contract that is not bound to it: a try that crashed after the
   * provider answered created it. It is adopted now, by id, instead of waiting for that try's job to come back.
   * A contract discarded with its deleted deal adopts a live task too, to end it: the delete did not see it. A
   * contract bound to another task ends this one as a duplicate.
   */
  async adoptNamedTask(key: ContractKey, taskId: string): Promise<Contract | null> {
    return this.contracts.withLockedContract(key, async (manager, contract, dealDeleted) => {
      if (!contract) return contract;
      if (contract.taskId) {
        // Bound meanwhile: to this task (its binding committed while this waited for the lock), or to another.
        if (contract.taskId !== taskId) await this.endDuplicate(contract, taskId);
        return contract;
      }
      const discardedWithDeal = contract.status === 'discarded' && dealDeleted;
      if (!discardedWithDeal && !AWAITING_TASK.includes(contract.status)) return contract;
      const session = await this.connections.session(contract.companyId);
      const task = await this.provider.get(session, taskId);
      if (task?.metadata.pipedrive_contract_id !== contract.id) return contract;
      if (discardedWithDeal && FINAL_STATUSES.has(task.status)) {
        return task.status === 'completed' ? this.recordSignedAfterDiscard(manager, contract, task) : contract;
      }
      return this.adopt(manager, session, contract, task);
    });
  }

  /**
   * A contract discarded with its deleted deal, whose task (a crashed try's, which the delete did not find) the signers
   * completed meanwhile: a signed contract is a record, so it is kept as completed with its task, and its files can be
   * read (by admins, the deal being deleted). Nothing is written to the deleted deal.
   */
  private recordSignedAfterDiscard(manager: EntityManager, contract: Contract, task: SignTask): Promise<Contract> {
    this.logger.warn(`contract ${contract.id}: discarded with its deleted deal, but its task ${task.taskId} was signed; recorded as completed`);
    return this.contracts.update(
      manager,
      contract.id,
      {
        taskId: task.taskId,
        status: 'completed',
        statusReason: 'Signed in DottedSign, though the deal had been deleted in Pipedrive',
        signers: mergeSigners(contract.signers, task.signers),
        effects: { ...contract.effects, writeBackDone: new Date().toISOString() },
      },
      // The task's own webhooks (sent, signed, completed) add their timeline lines as they are applied.
      { type: 'created', details: { taskId: task.taskId, how: 'adopted' }, dedupeKey: 'created' },
    );
  }

  /**
   * A second task naming a contract that already has one: a create that timed out here went through at DottedSign,
   * and the retry's search did not list it yet. Its signers must not get two requests, so it is ended once its own
   * webhook shows it; one already signed is left for a person to look at (logged).
   */
  private async endDuplicate(contract: Contract, taskId: string): Promise<void> {
    const session = await this.connections.session(contract.companyId);
    const task = await this.provider.get(session, taskId);
    if (task?.metadata.pipedrive_contract_id !== contract.id) return;
    if (FINAL_STATUSES.has(task.status)) {
      if (task.status !== 'voided') this.logger.warn(`contract ${contract.id}: a duplicate task ${taskId} is ${task.status}; the contract follows task ${contract.taskId}`);
      return;
    }
    this.logger.warn(`contract ${contract.id}: ending duplicate task ${taskId} (the contract's task is ${contract.taskId})`);
    await this.end(session, task, 'Duplicate of another task for the same contract');
  }

  /**
   * For a deal just marked deleted, under the caller's deal lock: the tasks an earlier try created but never
   * recorded are looked up as a retry would, adopted and ended. False when DottedSign has none.
   */
  async endUnrecordedTasks(manager: EntityManager, session: ProviderSession, contract: Contract): Promise<boolean> {
    const found = await this.earlierTasks(session, contract);
    if (found.length) await this.adoptFound(manager, session, contract, found);
    return found.length > 0;
  }

  /**
   * Tasks of this contract that a previous try created (one normally; more only after a provider glitch), the one
   * to follow first: a completed one (its signature must reach the deal), then a live one, then the provider's order.
   */
  private async earlierTasks(session: ProviderSession, contract: Contract): Promise<SignTask[]> {
    const searches = dealsOf(contract).map((dealId) => this.provider.findByMetadata(session, 'pipedrive_deal_id', dealId));
    // A task can show on two pages of a list that changes while it is read: each is counted once.
    const tasks = [...new Map((await Promise.all(searches)).flat().map((task) => [task.taskId, task])).values()];
    const rank = (task: SignTask) => (task.status === 'completed' ? 0 : task.status === 'waiting' || task.status === 'draft' ? 1 : 2);
    return tasks.filter((task) => task.metadata.pipedrive_contract_id === contract.id).sort((a, b) => rank(a) - rank(b));
  }

  /** The first earlier task is adopted (or, for a deleted deal, ended); any others are ended as duplicates. */
  private async adoptFound(manager: EntityManager, session: ProviderSession, contract: Contract, [task, ...extra]: SignTask[]): Promise<Contract> {
    for (const duplicate of extra) await this.end(session, duplicate, 'Duplicate of another task for the same contract');
    return this.adopt(manager, session, contract, task);
  }

  private async adopt(manager: EntityManager, session: ProviderSession, contract: Contract, task: SignTask): Promise<Contract> {
    this.logger.warn(`contract ${contract.id}: adopting existing task ${task.taskId}`);
    const bound = await this.bind(manager, contract, task, 'adopted');
    if (FINAL_STATUSES.has(task.status) || !(await this.contracts.isDealDeleted(manager, contract.companyId, contract.dealId))) return bound;
    await this.end(session, task, 'Deal deleted in Pipedrive');
    return this.contracts.update(manager, contract.id, { status: task.status === 'waiting' ? 'voided' : 'discarded', statusReason: 'The deal was deleted in Pipedrive' });
  }

  /**
   * The deal, and its contact person when the signers come from the deal. The person a create webhook named is read
   * beside the deal, one round trip instead of two, and used only if the deal still names it; otherwise (the contact
   * changed since, or that read failed) the deal's own person is read after it.
   */
  private async readDeal(context: CompanyContextValue, contract: Contract, personIdHint?: number | null): Promise<DealRead> {
    // A contract sent from the panel reads the deal as its sender, as Pipedrive lets that user see it.
    const api = contract.createdByUserId ? await this.context.pipedriveAsUser(contract.companyId, contract.createdByUserId) : await this.context.pipedrive(context);
    const needsPerson = !contract.signers.length;
    const hinted = needsPerson && personIdHint ? api.person(personIdHint).then((person) => ({ person }), () => null) : null;
    const deal = await api.deal(Number(contract.dealId));
    const personId = deal && !deal.isDeleted && needsPerson ? deal.personId : null;
    if (!personId) return { api, deal, person: null };
    const early = personId === personIdHint ? await hinted : null;
    return { api, deal, person: early ? early.person : await api.person(personId) };
  }

  private async create(manager: EntityManager, session: ProviderSession, context: CompanyContextValue, contract: Contract, { api, deal, person }: DealRead): Promise<Contract> {
    if (!deal || deal.isDeleted) {
      // Recorded as a delete webhook would (which may be late or lost): a task an earlier, crashed try created for
      // this contract is then ended by its first webhook instead of left live on a deal that is gone.
      await this.contracts.markDealDeleted(manager, contract.companyId, contract.dealId);
      return this.fail(manager, contract, 'discarded', 'The deal no longer exists in Pipedrive');
    }
    const templateId = contract.templateId ?? context.settings.templateId;
    if (!templateId) return this.fail(manager, contract, 'failed', 'No contract template is chosen. Choose one in the app settings, then press Retry.');
    const signers = contract.signers.length ? contract.signers : await this.signersFromDeal(manager, api, context, contract, person);
    if (!signers) return (await this.contracts.byId(contract.id, manager))!;

    const task = await this.provider.createFromTemplate(session, {
      title: contract.title || deal.title,
      templateId,
      signers: signers.map(({ name, email }) => ({ name, email })),
      ordered: contract.ordered,
      metadata: { pipedrive_deal_id: contract.dealId, pipedrive_company_id: contract.companyId, pipedrive_contract_id: contract.id },
    });
    return this.bind(manager, { ...contract, signers }, task, 'created', { templateId, title: contract.title || deal.title });
  }

  /** The deal's person as the signer; without one (or without an email) the contract waits for a signer, with a note if the company wants notes. */
  private async signersFromDeal(manager: EntityManager, api: PipedriveApi, context: CompanyContextValue, contract: Contract, person: PipedrivePerson | null) {
    if (person?.email) return [{ name: person.name || person.email, email: person.email, status: 'waiting' as const, signedAt: null }];
    const reason = person ? `The contact person ${person.name} has no email address` : 'The deal has no contact person';
    await this.contracts.update(manager, contract.id, { status: 'needs_signer', statusReason: reason }, { type: 'needs_signer', details: { reason }, dedupeKey: `needs_signer:${reason}` });
    if (!context.settings.writeNotes) return null;
    await this.notes.writeOnce(manager, api, contract, 'needs-signer', [
      `The DottedSign contract for this deal was not sent: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}.`,
      'Add a contact person with an email address to the deal, then press Retry in the DottedSign panel (or send the contract from the panel).',
    ]);
    return null;
  }

  private bind(manager: EntityManager, contract: Contract, task: SignTask, how: 'created' | 'adopted', change: ContractChange = {}): Promise<Contract> {
    return this.contracts.update(
      manager,
      contract.id,
      { ...change, taskId: task.taskId, status: nextStatus(contract.status, task.status), statusReason: null, signers: mergeSigners(contract.signers, task.signers) },
      { type: 'created', details: { taskId: task.taskId, how }, dedupeKey: 'created' },
      ...(task.status === 'waiting' ? [{ type: 'sent', dedupeKey: 'sent' }] : []),
    );
  }

  /** Voids a waiting task and discards a draft; a final one (signed above all) is a record and stays as it is. */
  private async end(session: ProviderSession, task: SignTask, reason: string): Promise<void> {
    if (task.status === 'waiting') await this.provider.void(session, task.taskId, reason);
    else if (task.status === 'draft') await this.provider.discard(session, task.taskId);
  }

  private fail(manager: EntityManager, contract: Contract, status: 'failed' | 'discarded', reason: string): Promise<Contract> {
    return this.contracts.update(manager, contract.id, { status, statusReason: reason }, { type: status, details: { reason }, dedupeKey: `${status}:${reason}` });
  }

  private async handleFailure(manager: EntityManager, contract: Contract, error: unknown, finalAttempt: boolean): Promise<Contract> {
    if (error instanceof ProviderError && !error.retryable && COMPANY_ERRORS[error.key]) {
      const reason = error.key === 'invalid_params' ? `${COMPANY_ERRORS[error.key]}: ${error.message}` : COMPANY_ERRORS[error.key];
      return this.fail(manager, contract, 'failed', reason);
    }
    if (error instanceof ProviderError && !error.retryable) return this.fail(manager, contract, 'failed', `DottedSign refused the contract: ${error.message}`);
    if (error instanceof NoActingInstallationError) return this.fail(manager, contract, 'failed', error.message);
    if (error instanceof NotConnectedError) return this.fail(manager, contract, 'failed', NOT_CONNECTED);
    if (finalAttempt) {
      return this.fail(manager, contract, 'failed', `Could not send the contract: ${(error as Error).message}. Press Retry to try again.`);
    }
    throw error;
  }
}
