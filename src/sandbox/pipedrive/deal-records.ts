import { API_ERRORS } from './platform-facts';
import type { ChangeSource, EntityEventListener } from './entity-events';
import type { Deal, DealStatus, DealVisibility, User } from './pipedrive.entities';
import { PipedriveApiError } from './pipedrive-api.error';
import type { SimulatorStore } from './simulator-store';

export interface DealInput {
  title?: string;
  ownerId?: number;
  personId?: number | null;
  orgId?: number | null;
  stageId?: number;
  value?: number;
  currency?: string;
  status?: DealStatus;
  customFields?: Record<string, unknown>;
  visibleTo?: DealVisibility;
}

export interface Actor {
  userId: number;
  changeSource: ChangeSource;
}

const STATUSES: readonly DealStatus[] = ['open', 'won', 'lost'];

/** Creates and changes deals with Pipedrive's rules, and announces every change to webhook listeners. */
export class DealRecords {
  constructor(
    private readonly store: SimulatorStore,
    private readonly emit: EntityEventListener,
    private readonly deletedDeals: 'not_found' | 'flagged' = 'not_found',
  ) {}

  create(companyId: number, input: DealInput, actor: Actor, now = new Date()): Deal {
    const stageId = input.stageId ?? this.firstStageId(companyId);
    const deal: Deal = {
      id: this.store.nextId('deal'),
      companyId,
      title: input.title ?? 'New deal',
      ownerId: input.ownerId ?? actor.userId,
      personId: input.personId ?? null,
      orgId: input.orgId ?? null,
      pipelineId: this.pipelineOfStage(companyId, stageId),
      stageId,
      value: input.value ?? 0,
      currency: input.currency ?? 'EUR',
      status: 'open',
      isArchived: false,
      archiveTime: null,
      isDeleted: false,
      addTime: now,
      updateTime: now,
      stageChangeTime: null,
      wonTime: null,
      lostTime: null,
      closeTime: null,
      customFields: input.customFields ?? {},
      visibleTo: input.visibleTo ?? 3,
    };
    if (input.status) this.applyStatus(deal, input.status, now);
    this.store.deals.set(deal.id, deal);
    this.emit({ object: 'deal', action: 'create', companyId, entityId: deal.id, current: snapshot(deal), previous: null, ...actor, at: now });
    return deal;
  }

  /** The API path: archived deals are not editable there, nor deals hidden from the caller. */
  updateThroughApi(companyId: number, dealId: number, input: DealInput, actor: Actor, caller: User): Deal {
    const deal = this.requireVisible(companyId, dealId, caller);
    if (deal.isArchived) throw PipedriveApiError.badRequest(API_ERRORS.archivedDeal);
    return this.update(companyId, dealId, input, actor);
  }

  update(companyId: number, dealId: number, input: DealInput, actor: Actor): Deal {
    const deal = this.require(companyId, dealId);
    if (input.status !== undefined && !STATUSES.includes(input.status)) {
      throw PipedriveApiError.badRequest(`Invalid status: must be one of ${STATUSES.join(', ')}`);
    }
    const previous = snapshot(deal);
    const now = new Date();
    if (input.stageId !== undefined && input.stageId !== deal.stageId) {
      deal.pipelineId = this.pipelineOfStage(companyId, input.stageId);
      deal.stageId = input.stageId;
      deal.stageChangeTime = now;
    }
    if (input.title !== undefined) deal.title = input.title;
    if (input.ownerId !== undefined) deal.ownerId = input.ownerId;
    if (input.personId !== undefined) deal.personId = input.personId;
    if (input.orgId !== undefined) deal.orgId = input.orgId;
    if (input.value !== undefined) deal.value = input.value;
    if (input.currency !== undefined) deal.currency = input.currency;
    if (input.customFields !== undefined) deal.customFields = { ...deal.customFields, ...input.customFields };
    if (input.visibleTo !== undefined) deal.visibleTo = input.visibleTo;
    if (input.status !== undefined && input.status !== deal.status) this.applyStatus(deal, input.status, now);
    deal.updateTime = now;
    this.emit({ object: 'deal', action: 'change', companyId, entityId: deal.id, current: snapshot(deal), previous, ...actor, at: now });
    return deal;
  }

  setArchived(companyId: number, dealId: number, archived: boolean, actor: Actor): Deal {
    const deal = this.require(companyId, dealId);
    const previous = snapshot(deal);
    const now = new Date();
    deal.isArchived = archived;
    deal.archiveTime = archived ? now : null;
    deal.updateTime = now;
    this.emit({ object: 'deal', action: 'change', companyId, entityId: deal.id, current: snapshot(deal), previous, ...actor, at: now });
    return deal;
  }

  delete(companyId: number, dealId: number, actor: Actor): Deal {
    const deal = this.require(companyId, dealId);
    const previous = snapshot(deal);
    deal.isDeleted = true;
    deal.updateTime = new Date();
    this.emit({ object: 'deal', action: 'delete', companyId, entityId: deal.id, current: null, previous, ...actor, at: deal.updateTime });
    return deal;
  }

  /**
   * Pipedrive's merge of `dealId` into `intoId`: the deal's files and notes move to the other deal, and the deal goes.
   * Webhooks v2 have no merge action: a `delete` of the merged deal naming the other (`meta.merged_to_id`), then a
   * `change` of the other.
   */
  merge(companyId: number, dealId: number, intoId: number, actor: Actor): Deal {
    const deal = this.require(companyId, dealId);
    const into = this.require(companyId, intoId);
    if (deal.id === into.id) throw PipedriveApiError.badRequest('A deal cannot be merged with itself');
    for (const item of [...this.store.filesOf(companyId, dealId), ...this.store.notesOf(companyId, dealId)]) item.dealId = intoId;
    const previous = snapshot(deal);
    const now = new Date();
    deal.isDeleted = true;
    deal.updateTime = now;
    this.emit({ object: 'deal', action: 'delete', companyId, entityId: deal.id, current: null, previous, ...actor, at: now, mergedToId: intoId });
    const intoPrevious = snapshot(into);
    into.updateTime = now;
    this.emit({ object: 'deal', action: 'change', companyId, entityId: into.id, current: snapshot(into), previous: intoPrevious, ...actor, at: now });
    return into;
  }

  /** Pipedrive's "restore" of a deleted deal (a UI action, within 30 days of the delete); emits `change`. */
  restore(companyId: number, dealId: number, actor: Actor): Deal {
    const deal = this.store.deals.get(dealId);
    if (!deal || deal.companyId !== companyId || !deal.isDeleted) throw PipedriveApiError.notFound(API_ERRORS.notFound('Deal'));
    const previous = snapshot(deal);
    deal.isDeleted = false;
    deal.updateTime = new Date();
    this.emit({ object: 'deal', action: 'change', companyId, entityId: deal.id, current: snapshot(deal), previous, ...actor, at: deal.updateTime });
    return deal;
  }

  /** The company's deals that are neither deleted nor archived (what v2 `GET /deals` lists). */
  listed(companyId: number): Deal[] {
    return [...this.store.deals.values()].filter((deal) => deal.companyId === companyId && !deal.isDeleted && !deal.isArchived);
  }

  /** A deal as `GET /v2/deals/:id` shows it: with the `flagged` option a deleted one too (with `is_deleted: true`). */
  readable(companyId: number, dealId: number, caller: User): Deal {
    const stored = this.store.deals.get(dealId);
    const flagged = this.deletedDeals === 'flagged' && stored?.companyId === companyId && stored.isDeleted;
    return this.visible(flagged ? stored : this.require(companyId, dealId), caller);
  }

  requireVisible(companyId: number, dealId: number, caller: User): Deal {
    return this.visible(this.require(companyId, dealId), caller);
  }

  /** Pipedrive answers 403 for a deal the caller may not see (documented for the single-deal GET and update). */
  private visible(deal: Deal, caller: User): Deal {
    if (!visibleTo(deal, caller)) throw new PipedriveApiError(403, API_ERRORS.dealNotVisible);
    return deal;
  }

  require(companyId: number, dealId: number): Deal {
    const deal = this.store.liveDeal(companyId, dealId);
    if (!deal) throw PipedriveApiError.notFound(API_ERRORS.notFound('Deal'));
    return deal;
  }

  /** won_time exists only while the deal is won; lost_time only while lost; close_time while closed. */
  private applyStatus(deal: Deal, status: DealStatus, now: Date): void {
    deal.status = status;
    deal.wonTime = status === 'won' ? now : null;
    deal.lostTime = status === 'lost' ? now : null;
    deal.closeTime = status === 'open' ? null : now;
  }

  private firstStageId(companyId: number): number {
    const stage = this.store.pipelinesOf(companyId)[0]?.stages[0];
    if (!stage) throw PipedriveApiError.badRequest('The company has no pipeline');
    return stage.id;
  }

  private pipelineOfStage(companyId: number, stageId: number): number {
    const found = this.store.findStage(companyId, stageId);
    if (!found) throw PipedriveApiError.badRequest(`Stage ${stageId} not found`);
    return found.pipeline.id;
  }
}

export function snapshot<T>(record: T): T {
  return structuredClone(record);
}

/** Owner-only deals are seen by their owner and by admins; followers are not modelled. */
export function visibleTo(deal: Deal, user: User): boolean {
  return deal.visibleTo === 3 || deal.ownerId === user.id || user.isAdmin;
}
