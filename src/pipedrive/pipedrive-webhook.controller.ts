import { Body, Controller, Headers, HttpCode, Logger, Post } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { InboxService } from '../inbox/inbox.service';
import { parsePipedriveEvent } from './pipedrive-event';
import { WebhookCredentials, parseBasicAuth } from './webhook-credentials.service';

/** Deal events the app acts on; anything else is acknowledged, logged and not stored. */
const HANDLED = new Set(['deal:create', 'deal:delete']);

@Controller('webhooks/pipedrive')
export class PipedriveWebhookController {
  private readonly logger = new Logger(PipedriveWebhookController.name);

  constructor(
    private readonly credentials: WebhookCredentials,
    private readonly inbox: InboxService,
  ) {}

  /** Authenticate → parse → inbox row + job in one statement → 200. The work happens in the job. */
  @Post()
  @HttpCode(200)
  async receive(@Headers('authorization') authorization: string | undefined, @Body() body: unknown) {
    const basic = parseBasicAuth(authorization);
    const companyId = basic ? await this.credentials.companyFor(basic.user, basic.password) : null;
    if (!companyId) throw ApiError.unauthorized('Invalid webhook credentials');
    const event = parsePipedriveEvent(body);
    if (!event) throw ApiError.badRequest('Not a Pipedrive webhook payload (v2 or v1)');
    if (event.companyId !== companyId) throw ApiError.forbidden('The event belongs to another company than these credentials');
    const type = `${event.object}:${event.action}`;
    if (!HANDLED.has(type)) {
      // The app subscribes to these two only: anything else means a webhook set up by hand, worth a line.
      this.logger.warn(`company ${companyId}: ignored a ${type} event (${event.eventId}); the app subscribes to ${[...HANDLED].join(' and ')} only`);
      return { status: 'ignored' };
    }
    const status = await this.inbox.accept({ source: 'pipedrive', dedupeKey: event.eventId, eventType: type, companyId, payload: body });
    if (status === 'company-gone') {
      // Uninstalled since these credentials were verified: they are no longer valid.
      this.credentials.forgetCompany(companyId);
      throw ApiError.unauthorized('Invalid webhook credentials');
    }
    return { status };
  }
}
