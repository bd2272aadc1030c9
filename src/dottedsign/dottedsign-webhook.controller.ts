import { Controller, Headers, HttpCode, Post, type RawBodyRequest, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../common/api-error';
import { InboxService } from '../inbox/inbox.service';
import { DottedSignClient } from './dottedsign.client';

/**
 * DottedSign task events: the signature is checked on the raw body, the event stored once per dedupe key
 * (unknown actions and unknown tasks too, so nothing is silently dropped) and processed in a job.
 */
@Controller('webhooks/dottedsign')
export class DottedSignWebhookController {
  constructor(
    private readonly dottedsign: DottedSignClient,
    private readonly inbox: InboxService,
  ) {}

  @Post()
  @HttpCode(200)
  async receive(@Req() req: RawBodyRequest<FastifyRequest>, @Headers() headers: Record<string, string | string[] | undefined>) {
    const events = req.rawBody ? this.dottedsign.parseWebhook(req.rawBody, headers) : null;
    if (!events) throw ApiError.unauthorized('Missing or invalid Signature');
    if (!events.length) return { status: 'ignored' };
    const statuses: string[] = [];
    for (const event of events) {
      statuses.push(
        await this.inbox.accept({
          source: 'dottedsign',
          dedupeKey: event.dedupeKey,
          eventType: `task:${event.action}`,
          companyId: /^\d{1,18}$/.test(event.metadata.pipedrive_company_id ?? '') ? event.metadata.pipedrive_company_id : null,
          payload: { event: { ...event, occurredAt: event.occurredAt.toISOString() }, body: req.body as unknown },
        }),
      );
    }
    return { status: statuses.length === 1 ? statuses[0] : statuses };
  }
}
