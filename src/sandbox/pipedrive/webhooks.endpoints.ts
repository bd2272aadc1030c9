import express from 'express';
import { idParam } from './api-endpoint';
import type { ApiEndpoint } from './api-endpoint';
import { webhookV1 } from './api-shapes';
import { sendData, sendList } from './envelope';
import type { Webhook, WebhookAction, WebhookObject, WebhookVersion } from './pipedrive.entities';
import { API_ERRORS, MAX_WEBHOOKS_PER_USER } from './platform-facts';
import { PipedriveApiError } from './pipedrive-api.error';
import type { SimulatorStore } from './simulator-store';

const ACTIONS: Record<string, WebhookAction> = { create: 'create', change: 'change', delete: 'delete', '*': '*', added: 'create', updated: 'change', deleted: 'delete' };
const OBJECTS: readonly WebhookObject[] = ['deal', 'person', '*'];
const VERSIONS: readonly WebhookVersion[] = ['1.0', '2.0'];

/** v1 webhooks of the calling app: create (admin scope, ≤40 per app user), list, delete (see `webhookAccess`). */
export function webhookEndpoints(store: SimulatorStore): ApiEndpoint[] {
  return [
    {
      method: 'post',
      path: '/v1/webhooks',
      scope: 'admin',
      cost: 'v1Write',
      parsers: [express.json(), express.urlencoded({ extended: false })],
      handle: (req, res, caller) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const ownerId = caller.user.id;
        const owned = store.webhooksOf(caller.company.id, caller.grant.clientId).filter((hook) => hook.ownerId === ownerId);
        if (owned.length >= MAX_WEBHOOKS_PER_USER) throw PipedriveApiError.badRequest(API_ERRORS.webhookLimit);
        const webhook: Webhook = {
          id: store.nextId('webhook'),
          companyId: caller.company.id,
          clientId: caller.grant.clientId,
          ownerId,
          userId: permissionUser(store, caller.company.id, body.user_id, ownerId),
          ...subscription(body),
          addTime: new Date(),
          lastDeliveryTime: null,
          lastHttpStatus: null,
          firstAttemptFailures: 0,
          bannedUntil: null,
          failingSince: null,
        };
        store.webhooks.set(webhook.id, webhook);
        sendData(res, webhookV1(webhook), {}, 201);
      },
    },
    {
      method: 'get',
      path: '/v1/webhooks',
      scope: 'admin',
      cost: 'list',
      handle: (_req, res, caller) =>
        sendList(
          res,
          store
            .webhooksOf(caller.company.id, caller.grant.clientId)
            .filter((hook) => store.webhookAccess.list === 'company' || hook.ownerId === caller.user.id)
            .map(webhookV1),
        ),
    },
    {
      method: 'delete',
      path: '/v1/webhooks/:id',
      scope: 'admin',
      cost: 'v1Write',
      handle: (req, res, caller) => {
        const webhook = store.webhooks.get(idParam(req));
        if (!webhook || webhook.companyId !== caller.company.id || webhook.clientId !== caller.grant.clientId) {
          throw PipedriveApiError.notFound(API_ERRORS.notFound('Webhook'));
        }
        if (store.webhookAccess.delete === 'own' && webhook.ownerId !== caller.user.id) throw new PipedriveApiError(403, API_ERRORS.webhookNotOwned);
        store.webhooks.delete(webhook.id);
        sendData(res, { id: webhook.id });
      },
    },
  ];
}

type Subscription = Pick<Webhook, 'subscriptionUrl' | 'eventAction' | 'eventObject' | 'name' | 'version' | 'httpAuthUser' | 'httpAuthPassword'>;

function subscription(body: Record<string, unknown>): Subscription {
  const url = typeof body.subscription_url === 'string' ? body.subscription_url : '';
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw PipedriveApiError.badRequest('subscription_url must be an http(s) URL');
  const eventAction = Object.hasOwn(ACTIONS, String(body.event_action)) ? ACTIONS[String(body.event_action)] : undefined;
  if (!eventAction) throw PipedriveApiError.badRequest('event_action must be one of create, change, delete, *');
  const eventObject = OBJECTS.find((object) => object === body.event_object);
  if (!eventObject) throw PipedriveApiError.badRequest(`event_object must be one of ${OBJECTS.join(', ')}`);
  const version = body.version === undefined ? '2.0' : VERSIONS.find((known) => known === String(body.version));
  if (!version) throw PipedriveApiError.badRequest('version must be "1.0" or "2.0"');
  return {
    subscriptionUrl: url,
    eventAction,
    eventObject,
    version,
    name: typeof body.name === 'string' && body.name !== '' ? body.name : `${eventAction}.${eventObject}`,
    httpAuthUser: typeof body.http_auth_user === 'string' ? body.http_auth_user : null,
    httpAuthPassword: typeof body.http_auth_password === 'string' ? body.http_auth_password : null,
  };
}

function permissionUser(store: SimulatorStore, companyId: number, requested: unknown, fallback: number): number {
  if (requested === undefined || requested === null || requested === '') return fallback;
  const user = store.users.get(Number(requested));
  if (!user || user.companyId !== companyId) throw PipedriveApiError.badRequest('user_id is not a user of this company');
  return user.id;
}
