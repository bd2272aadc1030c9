import type { ApiEndpoint } from './api-endpoint';
import { userV1 } from './api-shapes';
import { sendData } from './envelope';

export function userEndpoints(): ApiEndpoint[] {
  return [
    {
      method: 'get',
      path: '/v1/users/me',
      scope: 'base',
      cost: 'v1Get',
      handle: (_req, res, caller) => sendData(res, userV1(caller.user, caller.company)),
    },
  ];
}
