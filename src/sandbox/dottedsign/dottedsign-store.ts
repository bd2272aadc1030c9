import { randomBytes } from 'node:crypto';
import type { SimClock } from '../kit/sim-clock';
import { DottedSignError } from './dottedsign-error';

export type MetadataValue = string | number | boolean;

export type TaskStatus = 'draft' | 'waiting' | 'completed' | 'declined' | 'voided' | 'expired';
export type SignerStatus = 'waiting' | 'viewed' | 'signed' | 'declined';

export interface Account {
  email: string;
  /** Tasks this account may still create this month. */
  quotaRemaining: number;
}

export interface Template {
  id: number;
  account: string;
  name: string;
  roles: string[];
}

export interface Signer {
  name: string;
  email: string;
  status: SignerStatus;
  signedAt: string | null;
  declineReason: string | null;
}

export interface TaskEvent {
  action: string;
  email: string | null;
  at: string;
}

export interface Task {
  id: number;
  account: string;
  fileName: string;
  templateId: number;
  status: TaskStatus;
  metadata: Record<string, MetadataValue>;
  ordered: boolean;
  stages: Array<{ order: number; signers: Signer[] }>;
  discarded: boolean;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  voidReason: string | null;
  events: TaskEvent[];
}

export interface TaskInput {
  fileName: string;
  templateId: number;
  signers: Array<{ name: string; email: string }>;
  ordered: boolean;
  start: boolean;
  metadata: Record<string, MetadataValue>;
}

export const TASK_STATUSES: readonly TaskStatus[] = ['draft', 'waiting', 'completed', 'declined', 'voided', 'expired'];
const FINAL = new Set<TaskStatus>(['completed', 'declined', 'voided', 'expired']);
/** Events that the simulator raises itself, as the task's state changes. */
const STATE_ACTIONS = new Set(['created', 'sent', 'viewed', 'signed', 'completed', 'declined', 'voided', 'expired']);
const DEFAULT_QUOTA = 1000;

/** What tests may read of the simulator's state (the handle's `state`); changes go through the API or `/_sim`. */
export interface DottedSignState {
  readonly accounts: ReadonlyMap<string, Readonly<Account>>;
  readonly templates: ReadonlyMap<number, Readonly<Template>>;
  readonly tasks: ReadonlyMap<number, Readonly<Task>>;
}

/**
 * How lists answer (their pagination shape is unverified in the reference): by default with page counts and up to
 * 100 items a page; settable through `/_sim/list-format` to show clients the other readings.
 */
export interface ListFormat {
  maxPerPage: number;
  counts: boolean;
}

export const DEFAULT_LIST_FORMAT: ListFormat = { maxPerPage: 100, counts: true };

/** State of the simulated DottedSign: accounts, templates, tasks and their status machine. */
export class DottedSignStore implements DottedSignState {
  readonly accounts = new Map<string, Account>();
  readonly templates = new Map<number, Template>();
  readonly tasks = new Map<number, Task>();
  listFormat: ListFormat = { ...DEFAULT_LIST_FORMAT };
  private nextTemplateId = 1;
  private nextTaskId = 1000;

  constructor(
    private readonly clock: SimClock,
    private readonly onEvent: (task: Task, event: TaskEvent) => void,
  ) {}

  reset(): void {
    this.accounts.clear();
    this.templates.clear();
    this.tasks.clear();
    this.listFormat = { ...DEFAULT_LIST_FORMAT };
    this.nextTemplateId = 1;
    this.nextTaskId = 1000;
  }

  addAccount(email: string, quotaRemaining = DEFAULT_QUOTA): Account {
    const account = { email, quotaRemaining };
    this.accounts.set(email, account);
    return account;
  }

  /** The account, created with the default quota when a sandbox user signs in with a new email. */
  ensureAccount(email: string): Account {
    return this.accounts.get(email) ?? this.addAccount(email);
  }

  addTemplate(account: string, name: string, roles: string[] = ['Signer']): Template {
    this.ensureAccount(account);
    const template = { id: this.nextTemplateId++, account, name, roles };
    this.templates.set(template.id, template);
    return template;
  }

  templatesOf(account: string): Template[] {
    return [...this.templates.values()].filter((template) => template.account === account);
  }

  createTask(account: string, input: TaskInput): Task {
    const template = this.templates.get(input.templateId);
    if (!template || template.account !== account) throw DottedSignError.templateNotAccessible();
    const owner = this.ensureAccount(account);
    if (owner.quotaRemaining <= 0) throw DottedSignError.overQuota();
    owner.quotaRemaining -= 1;
    const now = this.clock.iso();
    const task: Task = {
      id: this.nextTaskId++,
      account,
      fileName: input.fileName,
      templateId: input.templateId,
      status: 'draft',
      metadata: input.metadata,
      ordered: input.ordered,
      stages: input.signers.map((signer, index) => ({
        order: index + 1,
        signers: [{ name: signer.name, email: signer.email, status: 'waiting', signedAt: null, declineReason: null }],
      })),
      discarded: false,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
      voidReason: null,
      events: [],
    };
    this.tasks.set(task.id, task);
    this.emit(task, 'created', account);
    if (input.start) this.start(task);
    return task;
  }

  /**
   * The task as its owner may see it; discarded ones answer task_deleted. Another account's task and an unknown
   * id both answer task_not_accessible, so ids of other accounts cannot be probed.
   */
  taskFor(account: string, id: number): Task {
    const task = this.tasks.get(id);
    if (!task || task.account !== account) throw DottedSignError.taskNotAccessible();
    if (task.discarded) throw DottedSignError.taskDeleted();
    return task;
  }

  start(task: Task): void {
    if (task.status !== 'draft') throw DottedSignError.invalidAction('only a draft task can be started');
    this.transition(task, 'waiting', 'sent', task.account);
  }

  void(task: Task, reason: string | null): void {
    if (task.status !== 'waiting') throw DottedSignError.invalidAction(`a ${task.status} task cannot be voided`);
    task.voidReason = reason;
    this.transition(task, 'voided', 'voided', task.account);
  }

  discard(task: Task): void {
    if (task.status === 'waiting') throw DottedSignError.invalidAction('a waiting task cannot be discarded; void it first');
    task.discarded = true;
    task.updatedAt = this.clock.iso();
  }

  expire(task: Task): void {
    if (task.status !== 'waiting') throw DottedSignError.invalidAction(`a ${task.status} task cannot expire`);
    this.transition(task, 'expired', 'expired', task.account);
  }

  view(task: Task, email: string): void {
    const signer = this.signer(task, email);
    if (signer.status === 'waiting') signer.status = 'viewed';
    this.emit(task, 'viewed', signer.email);
  }

  sign(task: Task, email: string): void {
    const signer = this.signer(task, email);
    if (signer.status === 'signed') throw DottedSignError.invalidAction('this signer has already signed');
    if (task.ordered) {
      const next = task.stages.flatMap((stage) => stage.signers).find((candidate) => candidate.status !== 'signed');
      if (next !== signer) throw DottedSignError.invalidAction('it is not this signer\'s turn');
    }
    signer.status = 'signed';
    signer.signedAt = this.clock.iso();
    this.emit(task, 'signed', signer.email);
    if (task.stages.every((stage) => stage.signers.every((candidate) => candidate.status === 'signed'))) {
      task.completedAt = this.clock.iso();
      this.transition(task, 'completed', 'completed', signer.email);
    }
  }

  decline(task: Task, email: string, reason: string | null): void {
    const signer = this.signer(task, email);
    if (signer.status === 'signed') throw DottedSignError.invalidAction('this signer has already signed');
    signer.status = 'declined';
    signer.declineReason = reason;
    this.transition(task, 'declined', 'declined', signer.email);
  }

  /**
   * One of DottedSign's events that change nothing this simulator models (`modified`, `archived`, `review_passed` …,
   * or one it does not know): recorded and sent as a webhook, the task left as it is.
   */
  announce(task: Task, action: string, email: string | null): void {
    if (STATE_ACTIONS.has(action)) throw DottedSignError.invalidParams(`"${action}" follows from the task's state: use its own route`);
    this.emit(task, action, email);
  }

  /** The signer with this email (any letter case), or undefined. */
  findSigner(task: Task, email: string): Signer | undefined {
    return task.stages.flatMap((stage) => stage.signers).find((candidate) => candidate.email.toLowerCase() === email.toLowerCase());
  }

  private signer(task: Task, email: string): Signer {
    if (task.status !== 'waiting') throw DottedSignError.invalidAction(`the task is ${task.status}`);
    const signer = this.findSigner(task, email);
    if (!signer) throw DottedSignError.invalidParams(`${email} is not a signer of this task`);
    return signer;
  }

  private transition(task: Task, status: TaskStatus, action: string, email: string | null): void {
    if (FINAL.has(task.status)) throw DottedSignError.invalidAction(`the task is already ${task.status}`);
    task.status = status;
    this.emit(task, action, email);
  }

  private emit(task: Task, action: string, email: string | null): void {
    const event = { action, email, at: this.clock.iso() };
    task.updatedAt = event.at;
    task.events.push(event);
    this.onEvent(task, event);
  }
}

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}
