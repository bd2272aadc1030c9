import { createHmac } from 'node:crypto';
import type { WebhookDispatcher } from '../kit/webhook-dispatcher';
import type { Task, TaskEvent } from './dottedsign-store';

/** Simulator choice (DottedSign's retry policy is undocumented): retries after 10 s, 60 s and 300 s. */
export const WEBHOOK_RETRY_DELAYS_MS = [10_000, 60_000, 300_000];
export const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * Turns task events into DottedSign webhooks: one URL per application, a JSON body, and a `Signature` header
 * = hex(HMAC-SHA256(raw body, client secret)).
 */
export class TaskWebhooks {
  private sequence = 0;

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

  publish(task: Task, event: TaskEvent): void {
    if (!this.url) return;
    const body = JSON.stringify({
      resource_id: task.id,
      resource_type: 'SignTask',
      action_name: event.action,
      event_datetime: String(Math.floor(Date.parse(event.at) / 1000)),
      event_email: event.email ?? '',
      ip_address: '127.0.0.1',
      user_agent: 'DottedSign simulator',
      task: { task_id: task.id, status: task.status, file_name: task.fileName, metadata: task.metadata },
    });
    const signature = createHmac('sha256', this.clientSecret).update(body).digest('hex');
    // `seq` is the order events happened in; deliveries run concurrently and may arrive in another order.
    this.dispatcher.send({ url: this.url, body, headers: { Signature: signature }, meta: { seq: ++this.sequence, taskId: task.id, action: event.action } });
  }
}
