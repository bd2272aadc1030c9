import { API_ERRORS } from './platform-facts';
import type { Actor } from './deal-records';
import { snapshot } from './deal-records';
import type { EntityEventListener } from './entity-events';
import type { ContactValue, Person } from './pipedrive.entities';
import { PipedriveApiError } from './pipedrive-api.error';
import type { SimulatorStore } from './simulator-store';

export interface PersonInput {
  name?: string;
  ownerId?: number;
  orgId?: number | null;
  /** Plain strings become `{value, primary: <first>, label: "work"}`. */
  emails?: Array<string | ContactValue>;
  phones?: Array<string | ContactValue>;
}

/** Creates and changes persons, and announces every change to webhook listeners. */
export class PersonRecords {
  constructor(
    private readonly store: SimulatorStore,
    private readonly emit: EntityEventListener,
  ) {}

  create(companyId: number, input: PersonInput, actor: Actor, now = new Date()): Person {
    const person: Person = {
      id: this.store.nextId('person'),
      companyId,
      name: input.name ?? 'New person',
      ownerId: input.ownerId ?? actor.userId,
      orgId: input.orgId ?? null,
      emails: toContactValues(input.emails ?? []),
      phones: toContactValues(input.phones ?? []),
      isDeleted: false,
      addTime: now,
      updateTime: now,
    };
    this.store.persons.set(person.id, person);
    this.emit({ object: 'person', action: 'create', companyId, entityId: person.id, current: snapshot(person), previous: null, ...actor, at: now });
    return person;
  }

  update(companyId: number, personId: number, input: PersonInput, actor: Actor): Person {
    const person = this.require(companyId, personId);
    const previous = snapshot(person);
    if (input.name !== undefined) person.name = input.name;
    if (input.ownerId !== undefined) person.ownerId = input.ownerId;
    if (input.orgId !== undefined) person.orgId = input.orgId;
    if (input.emails !== undefined) person.emails = toContactValues(input.emails);
    if (input.phones !== undefined) person.phones = toContactValues(input.phones);
    person.updateTime = new Date();
    this.emit({ object: 'person', action: 'change', companyId, entityId: person.id, current: snapshot(person), previous, ...actor, at: person.updateTime });
    return person;
  }

  delete(companyId: number, personId: number, actor: Actor): Person {
    const person = this.require(companyId, personId);
    const previous = snapshot(person);
    person.isDeleted = true;
    person.updateTime = new Date();
    this.emit({ object: 'person', action: 'delete', companyId, entityId: person.id, current: null, previous, ...actor, at: person.updateTime });
    return person;
  }

  require(companyId: number, personId: number): Person {
    const person = this.store.livePerson(companyId, personId);
    if (!person) throw PipedriveApiError.notFound(API_ERRORS.notFound('Person'));
    return person;
  }
}

function toContactValues(values: Array<string | ContactValue>): ContactValue[] {
  return values.map((entry, index) =>
    typeof entry === 'string' ? { value: entry, primary: index === 0, label: 'work' } : { value: entry.value, primary: Boolean(entry.primary), label: entry.label ?? 'work' },
  );
}
