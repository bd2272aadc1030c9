import { createHmac } from 'node:crypto';
import type { WebhookDispatcher } from '../kit/webhook-dispatcher';
import type { Task, TaskEvent } from './dottedsign-store';

/** Simulator choice (DottedSign's retry policy is undocumented): retries after 10 s, 60 s and 300 s. */
export const WEBHOOK_RETRY_DELAYS_MS = [10_000, 60_000, 300_000];
export const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * The reference leaves two details of the payload open, and the app must accept either reading: the signature's
 * encoding (hex or base64) and `resource_type` (`SignTask` in DottedSign's integration guide, `task` on its
 * webhook page).
 */
export interface WebhookFormat {
  signature: 'hex' | 'base64';
  resourceType: 'SignTask' | 'task';
}

export const DEFAULT_WEBHOOK_FORMAT: Readonly<WebhookFormat> = { signature: 'hex', resourceType: 'SignTask' };

/**
 * Turns task events into DottedSign webhooks: one URL per application, a JSON body, and a `Signature` header
 * = HMAC-SHA256(raw body, client secret), hex-encoded unless the format says base64.
 */
export class TaskWebhooks {
  private sequence = 0;
  private current: WebhookFormat = { ...DEFAULT_WEBHOOK_FORMAT };

  constructor(
    private readonly dispatcher: WebhookDispatcher,
    private readonly clientSecret: string,
    private url: string | undefined,
  ) {}

  get webhookUrl(): string | undefined {
    return this.url;
  }

  setUrl(url: string | undefined): void {
    this.url = url;
  }

  get format(): WebhookFormat {
    return { ...this.current };
  }

  setFormat(format: WebhookFormat): void {
    this.current = { ...format };
  }

  publish(task: Task, event: TaskEvent): void {
    if (!this.url) return;
    const body = JSON.stringify({
      resource_id: task.id,
      resource_type: this.current.resourceType,
      action_name: event.action,
      event_datetime: String(Math.floor(Date.parse(event.at) / 1000)),
      event_email: event.email ?? '',
      ip_address: '127.0.0.1',
      user_agent: 'DottedSign simulator',
      task: { task_id: task.id, status: task.status, file_name: task.fileName, metadata: task.metadata },
    });
    const signature = createHmac('sha256', this.clientSecret).update(body).digest(this.current.signature);
    // `seq` is the order events happened in; deliveries run concurrently and may arrive in another order.
    this.dispatcher.send({ url: this.url, body, headers: { Signature: signature }, meta: { seq: ++this.sequence, taskId: task.id, action: event.action } });
  }
}
