import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { CompanyContext } from '../signing/company-context.service';
import { panelPipedriveError } from './panel-access.service';

export type SuggestionState = 'ready' | 'no_contact' | 'no_email' | 'deal_not_found';

export interface SignerSuggestion {
  state: SuggestionState;
  person: { id: number; name: string; emails: string[] } | null;
  signers: Array<{ name: string; email: string }>;
}

/** Who the panel proposes as signers: the deal's contact person with their primary email, read as the panel's user. */
@Injectable()
export class DealSigners {
  constructor(private readonly context: CompanyContext) {}

  async suggest(companyId: string, userId: string, dealId: number): Promise<SignerSuggestion> {
    const context = await this.context.load(companyId);
    if (!context) throw ApiError.forbidden('The app is not installed for this company');
    try {
      const api = await this.context.pipedriveAsUser(companyId, userId);
      const deal = await api.deal(dealId);
      if (!deal || deal.isDeleted) return { state: 'deal_not_found', person: null, signers: [] };
      const person = deal.personId ? await api.person(deal.personId) : null;
      if (!person) return { state: 'no_contact', person: null, signers: [] };
      const view = { id: person.id, name: person.name, emails: person.emails };
      if (!person.email) return { state: 'no_email', person: view, signers: [] };
      return { state: 'ready', person: view, signers: [{ name: person.name || person.email, email: person.email }] };
    } catch (error) {
      throw panelPipedriveError(error, 'with the deal’s contact') ?? error;
    }
  }
}
