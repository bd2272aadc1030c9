import type { DealRecords } from './deal-records';
import type { PersonRecords } from './person-records';
import type { Company, Pipeline, User } from './pipedrive.entities';
import type { SimulatorStore } from './simulator-store';

export interface DemoCompany {
  companyId: number;
  adminUserId: number;
  regularUserId: number;
  pipelineId: number;
  stageIds: number[];
  personWithEmailId: number;
  personWithoutEmailId: number;
  dealId: number;
}

export function addCompany(store: SimulatorStore, input: { id?: number; name: string; domain: string; planMultiplier?: number }): Company {
  const company: Company = { id: input.id ?? store.nextId('company'), name: input.name, domain: input.domain, planMultiplier: input.planMultiplier ?? 1 };
  store.companies.set(company.id, company);
  return company;
}

export function addUser(store: SimulatorStore, companyId: number, input: { name: string; email: string; isAdmin?: boolean }): User {
  const user: User = { id: store.nextId('user'), companyId, name: input.name, email: input.email, isAdmin: input.isAdmin ?? false, languageCode: 'en', countryCode: 'US' };
  store.users.set(user.id, user);
  return user;
}

export function addPipeline(store: SimulatorStore, companyId: number, name: string, stageNames: string[]): Pipeline {
  const id = store.nextId('pipeline');
  const stages = stageNames.map((stageName, index) => ({ id: store.nextId('stage'), pipelineId: id, name: stageName, orderNr: index + 1 }));
  const pipeline: Pipeline = { id, companyId, name, stages };
  store.pipelines.set(id, pipeline);
  return pipeline;
}

/** How long before the simulator starts the demo company's persons and deal were added. */
const SEEDED_AGO_MS = 24 * 60 * 60 * 1000;

/**
 * "Acme Sales": an admin, a regular user, one pipeline, a person with and one without email, one open deal. Its
 * records are a day old, as a real company's are when it installs the app: an install in the same second as the
 * seed must not make the demo deal look added after it.
 */
export function seedDemoCompany(store: SimulatorStore, deals: DealRecords, persons: PersonRecords): DemoCompany {
  const company = addCompany(store, { name: 'Acme Sales', domain: 'acme' });
  const admin = addUser(store, company.id, { name: 'Ada Admin', email: 'ada@acme.test', isAdmin: true });
  const regular = addUser(store, company.id, { name: 'Rob Regular', email: 'rob@acme.test' });
  const pipeline = addPipeline(store, company.id, 'Sales', ['Qualified', 'Contact made', 'Proposal made', 'Negotiations started']);
  const actor = { userId: admin.id, changeSource: 'app' as const };
  const seededAt = new Date(Date.now() - SEEDED_AGO_MS);
  const withEmail = persons.create(company.id, { name: 'Pia Buyer', emails: [{ value: 'pia@customer.test', primary: true, label: 'work' }], phones: ['+1 555 0100'] }, actor, seededAt);
  const withoutEmail = persons.create(company.id, { name: 'Nora Nomail' }, actor, seededAt);
  const deal = deals.create(company.id, { title: 'Acme contract', personId: withEmail.id, value: 1200, currency: 'EUR' }, actor, seededAt);
  return {
    companyId: company.id,
    adminUserId: admin.id,
    regularUserId: regular.id,
    pipelineId: pipeline.id,
    stageIds: pipeline.stages.map((stage) => stage.id),
    personWithEmailId: withEmail.id,
    personWithoutEmailId: withoutEmail.id,
    dealId: deal.id,
  };
}
