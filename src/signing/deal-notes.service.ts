import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { escapeHtml } from '../common/html-page';
import type { PipedriveApi } from '../pipedrive/pipedrive.client';
import type { Contract } from './contract.entity';
import { ContractsRepository, type TimelineEntry } from './contracts.repository';

/**
 * Notes on deals, each written at most once per contract and purpose. The note carries a reference line; if a
 * crash hid our record of writing it, the retry finds it on the deal instead of writing a second one.
 */
@Injectable()
export class DealNotes {
  constructor(private readonly contracts: ContractsRepository) {}

  async writeOnce(manager: EntityManager, api: PipedriveApi, contract: Contract, purpose: string, paragraphs: string[]): Promise<void> {
    const line = await this.ensure(api, contract, purpose, paragraphs);
    if (line) await this.contracts.update(manager, contract.id, { effects: contract.effects }, line);
  }

  /** Finds or writes the note and sets its id on `contract.effects`; returns the timeline line to record, or null if it was recorded before. */
  async ensure(api: PipedriveApi, contract: Contract, purpose: string, paragraphs: string[]): Promise<TimelineEntry | null> {
    if (contract.effects.noteIds?.[purpose]) return null;
    const reference = `ref dottedsign-contract-${contract.id}-${purpose}`;
    const dealId = Number(contract.dealId);
    const existing = (await api.dealNotes(dealId)).find((note) => note.content.includes(reference));
    const html = `${paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`).join('')}<p><small>${reference}</small></p>`;
    const noteId = existing?.id ?? (await api.addDealNote(dealId, html)).id;
    contract.effects = { ...contract.effects, noteIds: { ...contract.effects.noteIds, [purpose]: noteId } };
    return { type: 'note_written', details: { purpose, pipedriveNoteId: noteId }, dedupeKey: `note:${purpose}` };
  }
}
