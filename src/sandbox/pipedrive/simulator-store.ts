import type { Company, Deal, Note, Person, Pipeline, StoredFile, User, Webhook } from './pipedrive.entities';

export interface WebhookAccess {
  list: 'company' | 'own';
  delete: 'company' | 'own';
}

const COMPANY_WIDE: WebhookAccess = { list: 'company', delete: 'company' };

/** In-memory records of every company the simulator hosts. Rules live elsewhere; this only keeps and finds. */
export class SimulatorStore {
  readonly companies = new Map<number, Company>();
  readonly users = new Map<number, User>();
  readonly pipelines = new Map<number, Pipeline>();
  readonly deals = new Map<number, Deal>();
  readonly persons = new Map<number, Person>();
  readonly files = new Map<number, StoredFile>();
  readonly notes = new Map<number, Note>();
  readonly webhooks = new Map<number, Webhook>();
  private readonly sequences = new Map<string, number>();
  /**
   * Pipedrive does not document whether one user may list or delete another user's webhooks of the app. `company`
   * (the default) for both: the app's webhooks are listed and deleted company-wide. `own`: a user lists only their
   * own, or may delete only their own (another's answers 403).
   */
  webhookAccess: WebhookAccess = { ...COMPANY_WIDE };

  /** Ids are global per kind (as in Pipedrive), starting at distinct values so that mixing kinds shows. */
  nextId(kind: 'company' | 'user' | 'pipeline' | 'stage' | 'deal' | 'person' | 'file' | 'note' | 'webhook'): number {
    const starts = { company: 8087566, user: 12415231, pipeline: 1, stage: 1, deal: 101, person: 201, file: 301, note: 401, webhook: 4710827 };
    const next = this.sequences.get(kind) ?? starts[kind];
    this.sequences.set(kind, next + 1);
    return next;
  }

  clear(): void {
    for (const map of [this.companies, this.users, this.pipelines, this.deals, this.persons, this.files, this.notes, this.webhooks]) map.clear();
    this.sequences.clear();
    this.webhookAccess = { ...COMPANY_WIDE };
  }

  usersOf(companyId: number): User[] {
    return [...this.users.values()].filter((user) => user.companyId === companyId);
  }

  findStage(companyId: number, stageId: number): { pipeline: Pipeline; stageId: number } | undefined {
    for (const pipeline of this.pipelines.values()) {
      if (pipeline.companyId === companyId && pipeline.stages.some((stage) => stage.id === stageId)) return { pipeline, stageId };
    }
    return undefined;
  }

  pipelinesOf(companyId: number): Pipeline[] {
    return [...this.pipelines.values()].filter((pipeline) => pipeline.companyId === companyId);
  }

  liveDeal(companyId: number, dealId: number): Deal | undefined {
    const deal = this.deals.get(dealId);
    return deal && deal.companyId === companyId && !deal.isDeleted ? deal : undefined;
  }

  livePerson(companyId: number, personId: number): Person | undefined {
    const person = this.persons.get(personId);
    return person && person.companyId === companyId && !person.isDeleted ? person : undefined;
  }

  dealsOf(companyId: number): Deal[] {
    return [...this.deals.values()].filter((deal) => deal.companyId === companyId);
  }

  personsOf(companyId: number): Person[] {
    return [...this.persons.values()].filter((person) => person.companyId === companyId);
  }

  filesOf(companyId: number, dealId?: number): StoredFile[] {
    return [...this.files.values()].filter((file) => file.companyId === companyId && (dealId === undefined || file.dealId === dealId));
  }

  notesOf(companyId: number, dealId?: number): Note[] {
    return [...this.notes.values()].filter((note) => note.companyId === companyId && (dealId === undefined || note.dealId === dealId));
  }

  webhooksOf(companyId: number, clientId?: string): Webhook[] {
    return [...this.webhooks.values()].filter((hook) => hook.companyId === companyId && (clientId === undefined || hook.clientId === clientId));
  }
}
