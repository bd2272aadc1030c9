import { randomBytes } from 'node:crypto';
import { DottedSignError } from './dottedsign-error';

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
  metadata: Record<string, string>;
  ordered: boolean;
  stages: Array<{ order: number; signers: Signer[] }>;
  discarded: boolean;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  events: TaskEvent[];
}

export interface TaskInput {
  fileName: string;
  templateId: number;
  signers: Array<{ name: string; email: string }>;
  ordered: boolean;
  start: boolean;
  metadata: Record<string, string>;
}

const FINAL = new Set<TaskStatus>(['completed', 'declined', 'voided', 'expired']);

/** State of the simulated DottedSign: accounts, templates, tasks and their status machine. */
export class DottedSignStore {
  accounts = new Map<string, Account>();
  templates = new Map<number, Template>();
  tasks = new Map<number, Task>();
  private nextTemplateId = 1;
  private nextTaskId = 1000;

  constructor(private readonly onEvent: (task: Task, event: TaskEvent) => void) {}

  reset(): void {
    this.accounts.clear();
    this.templates.clear();
    this.tasks.clear();
    this.nextTemplateId = 1;
    this.nextTaskId = 1000;
  }

  addAccount(email: string, quotaRemaining = 1000): Account {
    const account = { email, quotaRemaining };
    this.accounts.set(email, account);
    return account;
  }

  addTemplate(account: string, name: string, roles: string[] = ['Signer']): Template {
    if (!this.accounts.has(account)) this.addAccount(account);
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
    const owner = this.accounts.get(account)!;
    if (owner.quotaRemaining <= 0) throw DottedSignError.overQuota();
    owner.quotaRemaining -= 1;
    const now = new Date().toISOString();
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
      events: [],
    };
    this.tasks.set(task.id, task);
    this.emit(task, 'created', null);
    if (input.start) this.start(task);
    return task;
  }

  /** The task as its owner may see it; other accounts get task_not_accessible, discarded ones task_deleted. */
  taskFor(account: string, id: number): Task {
    const task = this.tasks.get(id);
    if (!task) throw DottedSignError.notFound('task not found');
    if (task.account !== account) throw DottedSignError.taskNotAccessible();
    if (task.discarded) throw DottedSignError.taskDeleted();
    return task;
  }

  start(task: Task): void {
    if (task.status !== 'draft') throw DottedSignError.invalidAction('only a draft task can be started');
    this.transition(task, 'waiting', 'sent', null);
  }

  void(task: Task): void {
    if (task.status !== 'waiting') throw DottedSignError.invalidAction(`a ${task.status} task cannot be voided`);
    this.transition(task, 'voided', 'voided', null);
  }

  discard(task: Task): void {
    if (task.status === 'waiting') throw DottedSignError.invalidAction('a waiting task cannot be discarded; void it first');
    task.discarded = true;
    task.updatedAt = new Date().toISOString();
  }

  expire(task: Task): void {
    if (task.status !== 'waiting') throw DottedSignError.invalidAction(`a ${task.status} task cannot expire`);
    this.transition(task, 'expired', 'expired', null);
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
    signer.signedAt = new Date().toISOString();
    this.emit(task, 'signed', signer.email);
    if (task.stages.every((stage) => stage.signers.every((candidate) => candidate.status === 'signed'))) {
      task.completedAt = new Date().toISOString();
      this.transition(task, 'completed', 'completed', signer.email);
    }
  }

  decline(task: Task, email: string, reason: string | null): void {
    const signer = this.signer(task, email);
    signer.status = 'declined';
    signer.declineReason = reason;
    this.transition(task, 'declined', 'declined', signer.email);
  }

  private signer(task: Task, email: string): Signer {
    if (task.status !== 'waiting') throw DottedSignError.invalidAction(`the task is ${task.status}`);
    const signer = task.stages.flatMap((stage) => stage.signers).find((candidate) => candidate.email.toLowerCase() === email.toLowerCase());
    if (!signer) throw DottedSignError.invalidParams(`${email} is not a signer of this task`);
    return signer;
  }

  private transition(task: Task, status: TaskStatus, action: string, email: string | null): void {
    if (FINAL.has(task.status)) throw DottedSignError.invalidAction(`the task is already ${task.status}`);
    task.status = status;
    this.emit(task, action, email);
  }

  private emit(task: Task, action: string, email: string | null): void {
    const event = { action, email, at: new Date().toISOString() };
    task.updatedAt = event.at;
    task.events.push(event);
    this.onEvent(task, event);
  }
}

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}
