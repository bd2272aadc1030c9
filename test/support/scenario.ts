import { DataSource } from 'typeorm';
import { setUpDemoCompany } from '../../src/sandbox/demo-setup';
import type { Sandbox } from './sandbox';
import { eventually } from './test-app';

export interface SimTask {
  task_id: number | string;
  status: string;
  file_name: string;
  metadata: Record<string, string>;
  template_id?: number | string;
  stages?: Array<Record<string, unknown>>;
}

/** Steps a test takes as a person would: install, connect DottedSign, choose a template, add deals. */
export class Scenario {
  constructor(readonly s: Sandbox) {}

  get demo() {
    return this.s.pipedrive.demo;
  }

  db(): DataSource {
    return this.s.app.app.get(DataSource);
  }

  /** Installs as the demo admin, connects the DottedSign app account and picks its first template. */
  async installAndConnect(settings: Record<string, unknown> = {}): Promise<{ templateId: number }> {
    const { adminUserId, companyId } = this.demo;
    const { templateId } = await setUpDemoCompany({ appUrl: this.s.app.url, userId: adminUserId, token: this.s.panelToken(companyId, adminUserId), settings });
    await this.webhooksReady();
    return { templateId };
  }

  async webhooksReady(): Promise<void> {
    await eventually(async () => {
      const [{ count }] = await this.db().query('SELECT count(*)::int AS count FROM webhook_subscriptions');
      return count === 2;
    }, 'deal webhooks to be registered');
  }

  async addDeal(input: Record<string, unknown>): Promise<{ id: number }> {
    const response = await this.s.sim(`/companies/${this.demo.companyId}/deals`, { body: input });
    if (response.status !== 201) throw new Error(`add deal failed: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: number };
  }

  async deleteDeal(id: number): Promise<void> {
    await this.s.sim(`/companies/${this.demo.companyId}/deals/${id}`, { method: 'DELETE' });
  }

  async contracts(dealId: number): Promise<Array<Record<string, any>>> {
    return this.db().query('SELECT * FROM contracts WHERE deal_id = $1 ORDER BY id', [dealId]);
  }

  async contractSettled(dealId: number, accept = (status: string) => status !== 'pending'): Promise<Record<string, any>> {
    return eventually(async () => {
      const [contract] = await this.contracts(dealId);
      return contract && accept(contract.status) ? contract : undefined;
    }, `contract of deal ${dealId} to settle`, 20000);
  }

  async tasks(): Promise<SimTask[]> {
    return (await (await this.s.dsim('/tasks')).json()) as SimTask[];
  }

  async tasksForDeal(dealId: number): Promise<SimTask[]> {
    return (await this.tasks()).filter((task) => String(task.metadata?.pipedrive_deal_id) === String(dealId));
  }

  /** Waits until the queue has nothing left to do for the app; on timeout, says what is still open. */
  async drained(): Promise<void> {
    const open = async () => ({
      jobs: await this.db().query(
        `SELECT name, state, data, output FROM pgboss.job WHERE state IN ('created', 'retry', 'active') AND name NOT LIKE '__pgboss%'
           AND name NOT IN ('signing.reconcile', 'pipedrive.webhook-health') AND start_after < now() + interval '5 seconds'`,
      ),
      inbox: await this.db().query(`SELECT source, event_type, status_reason FROM inbox_events WHERE status = 'pending'`),
    });
    // A simulator may still be delivering webhooks (a release sends them one after another), and a job finishing may
    // set off another: drained is no webhook under way, before and after no job or event is open.
    const delivering = () => [this.s.pipedrive.webhooks, this.s.dottedsign.webhooks];
    try {
      await eventually(async () => {
        await Promise.all(delivering().map((webhooks) => webhooks.idle()));
        const { jobs, inbox } = await open();
        return jobs.length === 0 && inbox.length === 0 && delivering().every((webhooks) => webhooks.isIdle());
      }, 'the job queue to drain', 30000);
    } catch (error) {
      throw new Error(`${(error as Error).message}; still open: ${JSON.stringify(await open())}`);
    }
  }
}
