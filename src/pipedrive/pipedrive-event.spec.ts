import { parsePipedriveEvent } from './pipedrive-event';

describe('parsePipedriveEvent', () => {
  it('reads a v2 create with string ids', () => {
    const event = parsePipedriveEvent({
      data: { id: 8, title: 'Sample', person_id: 8, pipeline_id: 1 },
      previous: null,
      meta: { action: 'create', entity: 'deal', entity_id: '8', id: '71825ee0-0054-4267-b5fd-d28b7a414212', company_id: '8087566', user_id: '12415231', timestamp: '2022-11-24T13:18:56.089Z', version: '2.0', attempt: 1 },
    });
    expect(event).toMatchObject({ eventId: '71825ee0-0054-4267-b5fd-d28b7a414212', version: '2', object: 'deal', action: 'create', companyId: '8087566', entityId: '8' });
    expect(event!.current).toMatchObject({ title: 'Sample' });
  });

  it('reads a v2 delete with data null and the last state in previous', () => {
    const event = parsePipedriveEvent({ data: null, previous: { id: 8, title: 'Gone' }, meta: { action: 'delete', entity: 'deal', entity_id: '8', id: 'e-2', company_id: '1' } });
    expect(event).toMatchObject({ action: 'delete', current: null, previous: { title: 'Gone' } });
  });

  it('reads v1 payloads and derives a dedupe key from webhook, object, action and time', () => {
    const event = parsePipedriveEvent({ v: 1, event: 'deleted.deal', meta: { action: 'deleted', object: 'deal', id: 123, company_id: 456, user_id: 789, webhook_id: 9, timestamp: 1700000000 }, current: null, previous: { id: 123 }, retry: 0 });
    expect(event).toMatchObject({ version: '1', action: 'delete', object: 'deal', companyId: '456', entityId: '123', eventId: 'v1:9:123:delete:1700000000' });
  });

  it('rejects what is not a Pipedrive webhook', () => {
    expect(parsePipedriveEvent({})).toBeNull();
    expect(parsePipedriveEvent({ meta: { id: 'x', action: 'create', entity: 'deal', entity_id: 'DROP TABLE', company_id: '1' } })).toBeNull();
    expect(parsePipedriveEvent('text')).toBeNull();
    expect(parsePipedriveEvent(null)).toBeNull();
  });
});
