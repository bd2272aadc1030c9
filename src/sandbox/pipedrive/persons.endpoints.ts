import { idParam } from './api-endpoint';
import type { ApiEndpoint } from './api-endpoint';
import { personV2 } from './api-shapes';
import { sendData } from './envelope';
import type { PersonRecords } from './person-records';

export function personEndpoints(persons: PersonRecords): ApiEndpoint[] {
  return [
    {
      method: 'get',
      path: '/v2/persons/:id',
      scope: 'contacts:read',
      cost: 'v2Get',
      handle: (req, res, caller) => sendData(res, personV2(persons.require(caller.company.id, idParam(req)))),
    },
  ];
}
