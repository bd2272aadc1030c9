import { Logger } from '@nestjs/common';
import { DOTTEDSIGN_SCOPES } from '../../src/dottedsign/dottedsign.client';
import { FAIL_ABANDONED_EVENTS } from '../../src/inbox/abandoned-events.service';
import { PROCESS_INBOX } from '../../src/inbox/inbox.service';
import { PRUNE_INBOX } from '../../src/inbox/inbox-retention.service';
import { JobQueue } from '../../src/jobs/job-queue.service';
import { CompanyContext } from '../../src/signing/company-context.service';
import { ContractSender } from '../../src/signing/contract-sender.service';
import { ContractsRepository } from '../../src/signing/contracts.repository';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario, type SimTask } from '../support/scenario';
import { eventually } from '../support/test-app';

describe('deal → contract, exactly once (app + both simulators over HTTP)', () => {
  let s: Sandbox;
  let scenario: Scenario;
  let templateId: number;

  beforeAll(async () => {
    s = await startSandbox();
    scenario = new Scenario(s);
    ({ templateId } = await scenario.installAndConnect());
  });
  afterAll(() => s?.close());

  /** A deal whose contract has settled, and the create delivery Pipedrive sent for it, to send again in variants. */
  async function settledDelivery(title: string) {
    const deal = await scenario.addDeal({ title, person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(deal.id);
    const deliveries = (await (await s.sim('/webhooks/deliveries')).json()) as Array<{ body: string; headers: Record<string, string> }>;
    const delivery = deliveries.find((attempt) => attempt.body.includes(`"entity_id":"${deal.id}"`))!;
    const template = JSON.parse(delivery.body) as { meta: Record<string, unknown>; data: Record<string, unknown> };
    return { deal, template, headers: { 'content-type': 'application/json', authorization: delivery.headers.authorization } };
  }

  /**
   * Commits that bind a task to a contract fail while `condition` (SQL over the row, `NEW`) holds, as if the process
   * died between DottedSign's answer and our commit.
   */
  async function crashOnBind(condition: string) {
    await scenario.db().query(`
      CREATE FUNCTION crash_on_bind() RETURNS trigger AS $$
      BEGIN
        IF NEW.task_id IS NOT NULL AND OLD.task_id IS NULL AND ${condition} THEN
          RAISE EXCEPTION 'simulated crash before commit';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      CREATE TRIGGER crash_on_bind BEFORE UPDATE ON contracts FOR EACH ROW EXECUTE FUNCTION crash_on_bind();`);
  }

  async function noCrashOnBind() {
    await scenario.db().query('DROP TRIGGER crash_on_bind ON contracts; DROP FUNCTION crash_on_bind();');
  }

  /** A deal added while its create webhook is dropped, and that delivery to send when the test is ready. */
  async function dealWithHeldWebhook(title: string) {
    await s.sim('/webhooks/drop', { body: { count: 1 } });
    const deal = await scenario.addDeal({ title, person_id: scenario.demo.personWithEmailId });
    const delivery = await eventually(async () => {
      const deliveries = (await (await s.sim('/webhooks/deliveries')).json()) as Array<{ body: string; headers: Record<string, string>; outcome: string }>;
      return deliveries.find((attempt) => attempt.outcome === 'dropped' && attempt.body.includes(`"entity_id":"${deal.id}"`));
    }, 'the create delivery dropped');
    const deliver = () =>
      fetch(`${s.app.url}/webhooks/pipedrive`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: delivery.headers.authorization }, body: delivery.body });
    return { deal, deliver };
  }

  /** Deletes the deal in Pipedrive and waits until the app has handled the delete webhook. */
  async function deleteDealHandled(dealId: number) {
    await scenario.deleteDeal(dealId);
    await eventually(async () => {
      const [event] = await scenario.db().query(`SELECT status FROM inbox_events WHERE event_type = 'deal:delete' AND payload->'meta'->>'entity_id' = $1`, [String(dealId)]);
      return event && event.status !== 'pending';
    }, `the delete of deal ${dealId} to be handled`);
  }

  /** The deal's tasks still open at DottedSign: not yet final, not discarded. */
  async function liveTasks(dealId: number) {
    const tasks = (await scenario.tasksForDeal(dealId)) as Array<SimTask & { discarded: boolean }>;
    return tasks.filter((task) => ['draft', 'waiting'].includes(task.status) && !task.discarded);
  }

  /** Creates a task straight at DottedSign, as our own send would (or a try whose answer we lost). */
  async function createTaskAtDottedSign(title: string, metadata: Record<string, string | number>, start: boolean): Promise<string> {
    const dottedsign = (path: string, body: unknown, bearer?: string) =>
      fetch(`${s.dottedsign.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
    const { access_token: token } = await dottedsign('/v1/oauth/token', { grant_type: 'client_credentials', scope: DOTTEDSIGN_SCOPES.join(' '), client_id: s.credentials.dottedsignClientId, client_secret: s.credentials.dottedsignClientSecret });
    const created = await dottedsign('/v1/sign_tasks/quick_create', { file_name: title, template_id: templateId, stages: [{ email: 'pia@customer.test', name: 'Pia Buyer' }], start, metadata }, token);
    return String(created.data.task_id);
  }

  it('a deal added in Pipedrive sends one started task from the chosen template to the person, bound both ways', async () => {
    const deal = await scenario.addDeal({ title: 'Globex: 50% off {Q3}', person_id: scenario.demo.personWithEmailId });
    const contract = await scenario.contractSettled(deal.id);
    expect(contract.status).toBe('waiting');
    const tasks = await scenario.tasksForDeal(deal.id);
    expect(tasks).toHaveLength(1);
    const [task] = tasks;
    expect(String(task.task_id)).toBe(contract.task_id);
    expect(task.status).toBe('waiting');
    expect(String(task.template_id)).toBe(String(templateId));
    expect(task.metadata).toMatchObject({ pipedrive_deal_id: String(deal.id), pipedrive_company_id: String(scenario.demo.companyId) });
    expect(task.file_name).toMatch(/^(?!.*["*:<>?/\\|~#%&{}])[^.].*$/);
    expect(JSON.stringify(task.stages)).toContain('pia@customer.test');
    expect(contract.signers).toEqual([expect.objectContaining({ email: 'pia@customer.test', status: 'waiting' })]);
  });

  it('the contact the create webhook names is read beside the deal, not after it', async () => {
    const { deal, deliver } = await dealWithHeldWebhook('Read side by side');
    const api = `/c/${scenario.demo.companyId}/api/v2`;
    await s.sim('/faults', { body: { method: 'GET', path: `${api}/deals/${deal.id}`, latencyMs: 500 } });
    await s.sim('/requests', { method: 'DELETE' });
    expect((await deliver()).status).toBe(200);
    expect((await scenario.contractSettled(deal.id)).status).toBe('waiting');
    const arrival = async (path: string) => {
      const logged = (await (await s.sim(`/requests?method=GET&path=${encodeURIComponent(path)}`)).json()) as Array<{ at: string }>;
      expect(logged).toHaveLength(1);
      return Date.parse(logged[0].at);
    };
    // Read one after the other, the person would be asked for once the deal's slowed answer came, 500 ms later.
    expect((await arrival(`${api}/persons/${scenario.demo.personWithEmailId}`)) - (await arrival(`${api}/deals/${deal.id}`))).toBeLessThan(250);
  });

  it('a deal whose contact changed after its create webhook gets its task for the contact it has now', async () => {
    const { deal, deliver } = await dealWithHeldWebhook('Contact changed');
    const companyPath = `/companies/${scenario.demo.companyId}`;
    const nova = (await (await s.sim(`${companyPath}/persons`, { body: { name: 'Nova Buyer', emails: [{ value: 'nova@customer.test', primary: true, label: 'work' }] } })).json()) as { id: number };
    expect((await s.sim(`${companyPath}/deals/${deal.id}`, { method: 'PATCH', body: { person_id: nova.id } })).status).toBe(200);
    expect((await deliver()).status).toBe(200);
    const contract = await scenario.contractSettled(deal.id);
    expect(contract.status).toBe('waiting');
    expect(contract.signers).toEqual([expect.objectContaining({ email: 'nova@customer.test' })]);
    const [task] = await scenario.tasksForDeal(deal.id);
    expect(JSON.stringify(task.stages)).toContain('nova@customer.test');
  });

  it('the same webhook delivered 10 times, and Pipedrive retries, still make one task', async () => {
    await s.sim('/webhooks/duplicate', { body: { count: 1 } });
    const deal = await scenario.addDeal({ title: 'Duplicated', person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(deal.id);
    const deliveries = (await (await s.sim('/webhooks/deliveries')).json()) as Array<{ body: string; headers: Record<string, string> }>;
    const delivery = deliveries.find((attempt) => attempt.body.includes(`"entity_id":"${deal.id}"`))!;
    expect(deliveries.filter((attempt) => attempt.body === delivery.body).length).toBeGreaterThanOrEqual(2);
    // Replay the recorded delivery ten more times, concurrently, as a retrying sender would.
    const headers = { 'content-type': 'application/json', authorization: delivery.headers.authorization };
    const replays = await Promise.all(Array.from({ length: 10 }, () => fetch(`${s.app.url}/webhooks/pipedrive`, { method: 'POST', headers, body: delivery.body })));
    expect(replays.map((response) => response.status)).toEqual(Array(10).fill(200));
    await scenario.drained();
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
    expect(await scenario.contracts(deal.id)).toHaveLength(1);
  });

  it('DottedSign answering 500 twice then succeeding makes one task; between the tries the panel says why it is not sent yet', async () => {
    await s.dsim('/faults', { body: { method: 'POST', path: '/v1/sign_tasks/quick_create', status: 500, count: 2, body: { error_code: 500000, error_key: 'internal_error', error_message: 'boom' } } });
    const deal = await scenario.addDeal({ title: 'Flaky vendor', person_id: scenario.demo.personWithEmailId });
    const shown = async () =>
      ((await (await s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/deals/${deal.id}/contracts`)).json()) as { contracts: Array<{ status: string; statusReason: string | null }> }).contracts[0];
    const between = await eventually(async () => {
      const contract = await shown();
      return contract?.statusReason ? contract : undefined;
    }, 'the reason of the failed try');
    expect(between).toMatchObject({ status: 'pending', statusReason: expect.stringMatching(/^Not sent yet: DottedSign .*boom.*Trying again automatically\.$/) });
    const contract = await scenario.contractSettled(deal.id);
    expect(contract.status).toBe('waiting');
    expect(await shown()).toMatchObject({ status: 'waiting', statusReason: null });
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
  });

  it('a crash after DottedSign created the task but before we recorded it ends with the task adopted, not duplicated, by its first webhook', async () => {
    // Fail the first commit that binds a task to a contract, as if the process died right there.
    // (A sequence counts outside the transaction, so the rollback does not reset it.)
    await scenario.db().query('CREATE SEQUENCE crash_once');
    await crashOnBind(`nextval('crash_once') = 1`);
    try {
      const deal = await scenario.addDeal({ title: 'Crash test', person_id: scenario.demo.personWithEmailId });
      const contract = await scenario.contractSettled(deal.id);
      expect(contract.status).toBe('waiting');
      expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
      const events = await scenario.db().query('SELECT type, details FROM contract_events WHERE contract_id = $1', [contract.id]);
      expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'created', details: expect.objectContaining({ how: 'adopted' }) })]));
      // The task's created/sent webhooks named the contract and adopted the task themselves, instead of failing
      // ("not bound yet") until the crashed try's job came back.
      await scenario.drained();
      const webhookJobs = await scenario.db().query(
        `SELECT i.event_type, i.status, j.retry_count FROM inbox_events i JOIN pgboss.job j ON j.data->>'inboxId' = i.id::text
         WHERE i.source = 'dottedsign' AND i.payload->'event'->>'taskId' = $1`,
        [contract.task_id],
      );
      expect(webhookJobs.length).toBeGreaterThanOrEqual(2);
      expect(webhookJobs).toEqual(webhookJobs.map(() => expect.objectContaining({ status: 'processed', retry_count: 0 })));
    } finally {
      await noCrashOnBind();
      await scenario.db().query('DROP SEQUENCE crash_once');
    }
  });

  it('deal deleted → its waiting task is voided', async () => {
    const deal = await scenario.addDeal({ title: 'To be deleted', person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(deal.id);
    await scenario.deleteDeal(deal.id);
    const contract = await scenario.contractSettled(deal.id, (status) => status === 'voided');
    expect(contract.status_reason).toContain('deleted');
    expect((await scenario.tasksForDeal(deal.id))[0].status).toBe('voided');
  });

  it.each([
    {
      when: 'refuses its task for good (another account connected since)',
      deal: { title: 'Task out of reach', person_id: 'with email' },
      settled: { status: 'waiting' },
      refused: '/v1/sign_tasks/read',
      reason: /deleted in Pipedrive.*could not be ended.*end it in DottedSign/,
    },
    {
      when: 'refuses the search for an unsent contract\'s task',
      deal: { title: 'Search out of reach' },
      settled: { status: 'needs_signer', task_id: null },
      refused: '/v1/sign_tasks/list',
      reason: /deleted in Pipedrive.*could not be searched.*end it in DottedSign/,
    },
  ])('deal deleted while DottedSign $when: the delete is recorded, the contract ends with a reason that says so', async ({ deal: input, settled, refused, reason }) => {
    const deal = await scenario.addDeal({ title: input.title, ...(input.person_id ? { person_id: scenario.demo.personWithEmailId } : {}) });
    expect(await scenario.contractSettled(deal.id)).toMatchObject(settled);
    await s.dsim('/faults', { body: { method: 'GET', path: refused, status: 403, count: 1000, body: { error_code: 403036, error_key: 'task_not_accessible', error_message: 'task not accessible' } } });
    try {
      await scenario.deleteDeal(deal.id);
      const contract = await scenario.contractSettled(deal.id, (status) => status === 'discarded');
      expect(contract.status_reason).toMatch(reason);
      const [{ deleted }] = await scenario.db().query('SELECT count(*)::int AS deleted FROM deal_deletions WHERE deal_id = $1', [deal.id]);
      expect(deleted).toBe(1);
    } finally {
      await s.dsim('/faults', { method: 'DELETE' });
    }
  });

  it('deal deleted while its last signer signs (the void refused as the task completed): the contract is kept completed, not discarded', async () => {
    const deal = await scenario.addDeal({ title: 'Signed as deleted', person_id: scenario.demo.personWithEmailId });
    const { id: contractId, task_id: taskId } = await scenario.contractSettled(deal.id);
    // The void reaches DottedSign after the signature: it is held for a moment, and the signer signs meanwhile.
    await s.dsim('/faults', { body: { method: 'POST', path: '/v1/sign_tasks/void', latencyMs: 1500, count: 1 } });
    await s.dsim('/requests', { method: 'DELETE' });
    await scenario.deleteDeal(deal.id);
    await eventually(async () => ((await (await s.dsim('/requests?method=POST&path=/v1/sign_tasks/void')).json()) as unknown[]).length > 0 || undefined, 'the void to reach DottedSign');
    expect((await s.dsim(`/tasks/${taskId}/sign`, { body: { email: 'pia@customer.test' } })).status).toBe(200);

    await deleteDealHandled(deal.id);
    await scenario.drained();
    expect(await (await s.dsim(`/tasks/${taskId}`)).json()).toMatchObject({ status: 'completed' });
    const [contract] = await scenario.contracts(deal.id);
    expect(contract).toMatchObject({ id: contractId, status: 'completed' });
    const { contracts } = (await (await s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/deals/${deal.id}/contracts`)).json()) as { contracts: Array<{ downloads: unknown[] }> };
    expect(contracts[0].downloads).toHaveLength(2);
  });

  it('deal deleted → its draft task is discarded', async () => {
    // A draft (not started) task bound to the deal, as a contract prepared but not sent yet would be.
    const deal = await scenario.addDeal({ title: 'Draft only' });
    await scenario.contractSettled(deal.id);
    const taskId = await createTaskAtDottedSign('Draft only', { pipedrive_deal_id: String(deal.id), pipedrive_company_id: String(scenario.demo.companyId) }, false);
    await scenario.db().query(
      `INSERT INTO contracts (company_id, deal_id, intent_key, template_id, title, status, task_id) VALUES ($1, $2, 'draft-test', $3, 'Draft only', 'draft', $4)`,
      [scenario.demo.companyId, deal.id, templateId, taskId],
    );
    await scenario.deleteDeal(deal.id);
    await eventually(async () => (await scenario.contracts(deal.id)).every((contract) => contract.status === 'discarded'), 'contracts discarded');
    const task = (await (await s.dsim(`/tasks/${taskId}`)).json()) as { discarded: boolean };
    expect(task.discarded).toBe(true);
  });

  it('a deleted deal restored in Pipedrive can be sent a contract from the panel again', async () => {
    const deal = await scenario.addDeal({ title: 'Deleted by mistake', person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(deal.id);
    await scenario.deleteDeal(deal.id);
    await scenario.contractSettled(deal.id, (status) => status === 'voided');
    expect((await s.sim(`/companies/${scenario.demo.companyId}/deals/${deal.id}/restore`, { body: {} })).status).toBe(200);

    const sent = await s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/deals/${deal.id}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }] } });
    expect(sent.status).toBe(201);
    expect(((await sent.json()) as { contract: { status: string } }).contract.status).toBe('waiting');
    expect((await scenario.tasksForDeal(deal.id)).filter((task) => task.status === 'waiting')).toHaveLength(1);

    // Deleted again: the new task is voided like the first.
    await scenario.deleteDeal(deal.id);
    await eventually(async () => (await scenario.contracts(deal.id)).every((contract) => contract.status === 'voided'), 'both contracts voided');
  });

  it('a panel send repeated with its requestId (its answer lost) makes one contract and one task; a new requestId sends another', async () => {
    const deal = await scenario.addDeal({ title: 'Sent from the panel, twice', person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(deal.id);
    const { companyId, adminUserId } = scenario.demo;
    const send = (dealId: number, requestId: string) =>
      s.api(companyId, adminUserId, `/api/deals/${dealId}/contracts`, { body: { signers: [{ name: 'Pia Buyer', email: 'pia@customer.test' }], requestId } });
    const contractIdOf = async (response: Response) => ((await response.json()) as { contract: { id: number } }).contract.id;

    const repeats = await Promise.all([1, 2, 3].map(() => send(deal.id, 'panel-try-0123456789abcdef')));
    expect(repeats.map((response) => response.status)).toEqual([201, 201, 201]);
    expect(new Set(await Promise.all(repeats.map(contractIdOf))).size).toBe(1);
    expect((await send(deal.id, 'panel-try-0123456789abcdef')).status).toBe(201);
    expect(await scenario.contracts(deal.id)).toHaveLength(2); // the automatic one and this one
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(2);

    expect((await send(deal.id, 'panel-try-fedcba9876543210')).status).toBe(201);
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(3);
    const elsewhere = await send(scenario.demo.dealId, 'panel-try-0123456789abcdef');
    expect(elsewhere.status).toBe(409);
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(3);
  });

  it('a deal merged into another: its contract out for signature follows it, is not voided, and signing it wins the deal it went into', async () => {
    const { companyId } = scenario.demo;
    const merged = await scenario.addDeal({ title: 'Duplicate deal', person_id: scenario.demo.personWithEmailId });
    const { id: contractId, task_id: taskId } = await scenario.contractSettled(merged.id);
    const kept = await scenario.addDeal({ title: 'Kept deal', person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(kept.id);

    expect((await s.sim(`/companies/${companyId}/deals/${merged.id}/merge`, { body: { mergeWithId: kept.id } })).status).toBe(200);
    await eventually(async () => {
      const [event] = await scenario.db().query(`SELECT status, status_reason FROM inbox_events WHERE event_type = 'deal:delete' AND payload->'meta'->>'entity_id' = $1`, [String(merged.id)]);
      return event && event.status !== 'pending' ? event : undefined;
    }, 'the merge to be handled');
    expect(await scenario.contracts(merged.id)).toEqual([]);
    const moved = (await scenario.contracts(kept.id)).find((contract) => contract.id === contractId);
    expect(moved).toMatchObject({ status: 'waiting', task_id: taskId });
    expect(await (await s.dsim(`/tasks/${taskId}`)).json()).toMatchObject({ status: 'waiting' });

    expect((await s.dsim(`/tasks/${taskId}/sign`, { body: { email: 'pia@customer.test' } })).status).toBe(200);
    await eventually(async () => (await scenario.contracts(kept.id)).find((contract) => contract.id === contractId)?.effects?.writeBackDone, 'the write-back to the kept deal', 20000);
    expect(await (await s.sim(`/companies/${companyId}/deals/${kept.id}`)).json()).toMatchObject({ status: 'won' });
    const files = (await (await s.sim(`/companies/${companyId}/files`)).json()) as Array<{ deal_id: number; file_name: string }>;
    expect(files.filter((file) => file.deal_id === kept.id && file.file_name.includes(`(contract ${contractId})`))).toHaveLength(2);
  });

  it('a deal merged between a crashed send and its retry: the retry adopts the task that names the merged deal, and sends no second one', async () => {
    const { companyId } = scenario.demo;
    const kept = await scenario.addDeal({ title: 'Kept deal', person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(kept.id);
    // Every try dies between DottedSign's answer and our commit while the contract is on the deal about to be merged;
    // DottedSign's webhooks are held, so only the retry's search can find the task.
    await s.dsim('/webhooks/hold');
    const merged = await scenario.addDeal({ title: 'Merged after a crash', person_id: scenario.demo.personWithEmailId });
    await crashOnBind(`NEW.deal_id = ${Number(merged.id)}`);
    try {
      const [task] = await eventually(async () => {
        const tasks = await scenario.tasksForDeal(merged.id);
        return tasks.length ? tasks : undefined;
      }, 'DottedSign to create the task');
      expect((await s.sim(`/companies/${companyId}/deals/${merged.id}/merge`, { body: { mergeWithId: kept.id } })).status).toBe(200);
      const moved = await eventually(async () => {
        const contracts = await scenario.contracts(kept.id);
        return contracts.find((contract) => contract.task_id === String(task.task_id));
      }, 'the retry to bind the task on the kept deal', 30_000);
      expect(moved).toMatchObject({ status: 'waiting' });
      expect(await scenario.tasksForDeal(merged.id)).toHaveLength(1);
      expect(await scenario.tasksForDeal(kept.id)).toHaveLength(1);
    } finally {
      await noCrashOnBind();
      await s.dsim('/webhooks/release');
    }
    await scenario.drained();
  });

  it('a delete delivered after the deal was restored leaves its contract out for signature', async () => {
    const deal = await scenario.addDeal({ title: 'Restored at once', person_id: scenario.demo.personWithEmailId });
    const { task_id: taskId } = await scenario.contractSettled(deal.id);
    await s.sim('/webhooks/hold');
    await scenario.deleteDeal(deal.id);
    expect((await s.sim(`/companies/${scenario.demo.companyId}/deals/${deal.id}/restore`, { body: {} })).status).toBe(200);
    await s.sim('/webhooks/release', { body: {} });
    const handled = await eventually(async () => {
      const [event] = await scenario.db().query(`SELECT status, status_reason FROM inbox_events WHERE event_type = 'deal:delete' AND payload->'meta'->>'entity_id' = $1`, [String(deal.id)]);
      return event && event.status !== 'pending' ? event : undefined;
    }, 'the delete to be handled');
    expect(handled).toMatchObject({ status: 'ignored', status_reason: expect.stringContaining('restored') });
    expect(await scenario.contracts(deal.id)).toEqual([expect.objectContaining({ status: 'waiting', task_id: taskId })]);
    expect(await (await s.dsim(`/tasks/${taskId}`)).json()).toMatchObject({ status: 'waiting' });
    const [{ deleted }] = await scenario.db().query('SELECT count(*)::int AS deleted FROM deal_deletions WHERE deal_id = $1', [deal.id]);
    expect(deleted).toBe(0);
  });

  it('a delete delivered before its create leaves no live task', async () => {
    await s.sim('/webhooks/hold');
    const deal = await scenario.addDeal({ title: 'Out of order', person_id: scenario.demo.personWithEmailId });
    await scenario.deleteDeal(deal.id);
    await s.sim('/webhooks/release', { body: { order: 'reverse' } });
    await scenario.drained();
    const live = (await scenario.tasksForDeal(deal.id)).filter((task) => ['draft', 'waiting'].includes(task.status));
    expect(live).toEqual([]);
    const contracts = await scenario.contracts(deal.id);
    expect(contracts.every((contract) => ['discarded', 'voided'].includes(contract.status))).toBe(true);
  });

  it('deal deleted after its contract was signed → the signed task, the completed contract and its files stay', async () => {
    const deal = await scenario.addDeal({ title: 'Signed, then deleted', person_id: scenario.demo.personWithEmailId });
    const { id: contractId, task_id: taskId } = await scenario.contractSettled(deal.id);
    expect((await s.dsim(`/tasks/${taskId}/sign`, { body: { email: 'pia@customer.test' } })).status).toBe(200);
    await eventually(async () => (await scenario.contracts(deal.id))[0].effects?.writeBackDone, 'the signed contract to be written back', 20000);

    await deleteDealHandled(deal.id);
    expect(await (await s.dsim(`/tasks/${taskId}`)).json()).toMatchObject({ status: 'completed', discarded: false });
    const [contract] = await scenario.contracts(deal.id);
    expect(contract.status).toBe('completed');
    const timeline = await scenario.db().query('SELECT type FROM contract_events WHERE contract_id = $1', [contractId]);
    expect(timeline).toContainEqual({ type: 'deal_deleted' });
    const { contracts } = (await (await s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/deals/${deal.id}/contracts`)).json()) as { contracts: Array<{ downloads: unknown[] }> };
    expect(contracts[0].downloads).toHaveLength(2);
    const signedPdf = await s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/contracts/${contractId}/files/completed`);
    expect(signedPdf.status).toBe(200);
    expect(signedPdf.headers.get('content-type')).toBe('application/pdf');
  });

  it('deal deleted after a crash left its task unrecorded → the delete finds the task at DottedSign and voids it', async () => {
    // Every bind of a task fails until the deal is deleted, as if each try died between DottedSign's answer and
    // our commit; DottedSign's webhooks are held, so only the delete can find the task.
    await s.dsim('/webhooks/hold');
    await crashOnBind('NOT EXISTS (SELECT 1 FROM deal_deletions d WHERE d.company_id = NEW.company_id AND d.deal_id = NEW.deal_id)');
    try {
      const deal = await scenario.addDeal({ title: 'Crash, then delete', person_id: scenario.demo.personWithEmailId });
      const [task] = await eventually(async () => {
        const tasks = await scenario.tasksForDeal(deal.id);
        return tasks.length ? tasks : undefined;
      }, 'DottedSign to create the task');
      expect((await scenario.contracts(deal.id))[0].task_id).toBeNull();

      await deleteDealHandled(deal.id);
      expect(await liveTasks(deal.id)).toEqual([]);
      expect((await scenario.contracts(deal.id))[0]).toMatchObject({ status: 'voided', task_id: String(task.task_id) });
    } finally {
      await noCrashOnBind();
      await s.dsim('/webhooks/release');
    }
    await scenario.drained();
  });

  it('a task that turns up for a contract discarded with its deleted deal is voided by its first webhook', async () => {
    const deal = await scenario.addDeal({ title: 'Turns up late' });
    const contract = await scenario.contractSettled(deal.id);
    await deleteDealHandled(deal.id);
    expect((await scenario.contracts(deal.id))[0].status).toBe('discarded');
    // A crashed send's task that DottedSign's listing did not show the delete yet.
    const metadata = { pipedrive_deal_id: String(deal.id), pipedrive_company_id: String(scenario.demo.companyId), pipedrive_contract_id: String(contract.id) };
    const taskId = await createTaskAtDottedSign('Turns up late', metadata, true);
    // The app ends the task before its transaction records the contract voided: wait for the record.
    expect(await scenario.contractSettled(deal.id, (status) => status === 'voided')).toMatchObject({ task_id: taskId });
    expect(await liveTasks(deal.id)).toEqual([]);
  });

  it('a task that turns up signed for a contract discarded with its deleted deal is recorded: the contract completed with it, its PDFs readable, nothing written to the deal', async () => {
    const deal = await scenario.addDeal({ title: 'Signed in the dark' });
    const contract = await scenario.contractSettled(deal.id);
    await deleteDealHandled(deal.id);
    expect((await scenario.contracts(deal.id))[0].status).toBe('discarded');
    // A crashed send's task, which the delete's search did not list, and which its signer signed before any of its
    // webhooks reached us.
    await s.dsim('/webhooks/hold');
    const metadata = { pipedrive_deal_id: String(deal.id), pipedrive_company_id: String(scenario.demo.companyId), pipedrive_contract_id: String(contract.id) };
    const taskId = await createTaskAtDottedSign('Signed in the dark', metadata, true);
    expect((await s.dsim(`/tasks/${taskId}/sign`, { body: { email: 'pia@customer.test' } })).status).toBe(200);
    await s.dsim('/webhooks/release');
    const recorded = await scenario.contractSettled(deal.id, (status) => status === 'completed');
    expect(recorded).toMatchObject({ task_id: taskId, status_reason: expect.stringContaining('deleted in Pipedrive') });
    await scenario.drained();
    const timeline = (await scenario.db().query('SELECT type FROM contract_events WHERE contract_id = $1 ORDER BY at, id', [contract.id])) as Array<{ type: string }>;
    expect(timeline.filter((line) => line.type === 'completed')).toHaveLength(1);
    expect(await (await s.dsim(`/tasks/${taskId}`)).json()).toMatchObject({ status: 'completed', discarded: false });
    const pdf = await s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/contracts/${contract.id}/files/completed`);
    expect([pdf.status, pdf.headers.get('content-type')]).toEqual([200, 'application/pdf']);
    const files = (await (await s.sim(`/companies/${scenario.demo.companyId}/files`)).json()) as Array<{ deal_id: number }>;
    expect(files.filter((file) => file.deal_id === deal.id)).toEqual([]);
  });

  it('a contract discarded because its deal was gone when sent (its delete webhook lost): a task that turns up for it is voided by its first webhook', async () => {
    const { deal, deliver } = await dealWithHeldWebhook('Gone before the send');
    await s.sim('/webhooks/drop', { body: { count: 1 } });
    await scenario.deleteDeal(deal.id);
    expect((await deliver()).status).toBe(200);
    const contract = await scenario.contractSettled(deal.id, (status) => status === 'discarded');
    const metadata = { pipedrive_deal_id: String(deal.id), pipedrive_company_id: String(scenario.demo.companyId), pipedrive_contract_id: String(contract.id) };
    const taskId = await createTaskAtDottedSign('Gone before the send', metadata, true);
    expect(await scenario.contractSettled(deal.id, (status) => status === 'voided')).toMatchObject({ task_id: taskId });
    expect(await liveTasks(deal.id)).toEqual([]);
  });

  it('a second task that turns up for a contract already sent (a create that timed out yet went through) is voided by its first webhook; the sent one stays', async () => {
    const deal = await scenario.addDeal({ title: 'Created twice', person_id: scenario.demo.personWithEmailId });
    const contract = await scenario.contractSettled(deal.id);
    expect(contract.status).toBe('waiting');
    const metadata = { pipedrive_deal_id: String(deal.id), pipedrive_company_id: String(scenario.demo.companyId), pipedrive_contract_id: String(contract.id) };
    const late = await createTaskAtDottedSign('Created twice', metadata, true);
    await eventually(async () => (await liveTasks(deal.id)).length === 1, 'the second task to be ended');
    expect((await liveTasks(deal.id)).map((task) => String(task.task_id))).toEqual([contract.task_id]);
    expect((await scenario.tasksForDeal(deal.id)).find((task) => String(task.task_id) === late)?.status).toBe('voided');
    expect(await scenario.contracts(deal.id)).toEqual([expect.objectContaining({ status: 'waiting', task_id: contract.task_id })]);
  });

  it('a task whose metadata DottedSign holds as numbers (as its webhook example shows) is still matched to its contract', async () => {
    const deal = await scenario.addDeal({ title: 'Numeric metadata', person_id: scenario.demo.personWithEmailId });
    const contract = await scenario.contractSettled(deal.id);
    const metadata = { pipedrive_deal_id: deal.id, pipedrive_company_id: scenario.demo.companyId, pipedrive_contract_id: Number(contract.id) };
    const late = await createTaskAtDottedSign('Numeric metadata', metadata, true);
    const [created] = (await scenario.tasksForDeal(deal.id)).filter((task) => String(task.task_id) === late);
    expect(created.metadata.pipedrive_contract_id).toBe(Number(contract.id));
    await eventually(async () => (await liveTasks(deal.id)).length === 1, 'the second task to be ended');
    expect((await scenario.tasksForDeal(deal.id)).find((task) => String(task.task_id) === late)?.status).toBe('voided');
  });

  it('a deal without a contact, or whose contact has no email, waits for a signer with a reason and a note', async () => {
    const noPerson = await scenario.addDeal({ title: 'Nobody to sign' });
    const waiting = await scenario.contractSettled(noPerson.id);
    expect(waiting).toMatchObject({ status: 'needs_signer', status_reason: 'The deal has no contact person' });
    const noEmail = await scenario.addDeal({ title: 'No email', person_id: scenario.demo.personWithoutEmailId });
    expect(await scenario.contractSettled(noEmail.id)).toMatchObject({ status: 'needs_signer', status_reason: expect.stringContaining('has no email address') });
    await scenario.drained();
    const notes = (await (await s.sim(`/companies/${scenario.demo.companyId}/notes`)).json()) as Array<{ deal_id: number; content: string }>;
    expect(notes.filter((note) => note.deal_id === noPerson.id)).toHaveLength(1);
    expect(notes.find((note) => note.deal_id === noEmail.id)!.content).toContain('no email address');
    expect(await scenario.tasksForDeal(noPerson.id)).toEqual([]);
  });

  it('with notes turned off, a deal without a contact waits for a signer and gets no note', async () => {
    const settings = (writeNotes: boolean) => s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/settings', { method: 'PUT', body: { writeNotes } });
    expect((await settings(false)).status).toBe(200);
    try {
      const deal = await scenario.addDeal({ title: 'Nobody to sign, quietly' });
      expect(await scenario.contractSettled(deal.id)).toMatchObject({ status: 'needs_signer', status_reason: 'The deal has no contact person' });
      await scenario.drained();
      const notes = (await (await s.sim(`/companies/${scenario.demo.companyId}/notes`)).json()) as Array<{ deal_id: number }>;
      expect(notes.filter((note) => note.deal_id === deal.id)).toEqual([]);
    } finally {
      expect((await settings(true)).status).toBe(200);
    }
  });

  it('quota exhausted at DottedSign → a visible failed contract with the reason, no retry storm', async () => {
    await s.dsim('/faults', { body: { method: 'POST', path: '/v1/sign_tasks/quick_create', status: 403, count: 1, body: { error_code: 403032, error_key: 'over_monthly_task_usage', error_message: 'over monthly task usage' } } });
    const deal = await scenario.addDeal({ title: 'Over quota', person_id: scenario.demo.personWithEmailId });
    const contract = await scenario.contractSettled(deal.id);
    expect(contract.status).toBe('failed');
    expect(contract.status_reason).toContain('quota');
    const attempts = ((await (await s.dsim('/requests?path=/v1/sign_tasks/quick_create')).json()) as unknown[]).length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(((await (await s.dsim('/requests?path=/v1/sign_tasks/quick_create')).json()) as unknown[]).length).toBe(attempts);
  });

  it('rejects wrong credentials, malformed JSON and oversized bodies, storing nothing', async () => {
    await scenario.drained(); // earlier tests' webhooks would add to the count
    const before = await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events');
    const wrong = await fetch(`${s.app.url}/webhooks/pipedrive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('pd-nobody:guess').toString('base64')}` },
      body: JSON.stringify({ meta: { id: 'x', action: 'create', entity: 'deal', entity_id: '1', company_id: String(scenario.demo.companyId) }, data: {} }),
    });
    expect(wrong.status).toBe(401);
    const malformed = await fetch(`${s.app.url}/webhooks/pipedrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"meta":' });
    expect(malformed.status).toBe(400);
    const huge = await fetch(`${s.app.url}/webhooks/pipedrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
    expect(await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events')).toEqual(before);
  });

  it('an event of a type the app does not subscribe to is acknowledged, not stored, and logged as a warning', async () => {
    const { template, headers } = await settledDelivery('Changed by hand');
    // The task's own webhooks may still be on their way in when its contract settles.
    await scenario.drained();
    const before = await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events');
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const changed = await fetch(`${s.app.url}/webhooks/pipedrive`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...template, meta: { ...template.meta, id: 'change-event-1', action: 'change' } }),
      });
      expect(changed.status).toBe(200);
      expect(await changed.json()).toEqual({ status: 'ignored' });
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('ignored a deal:change event (change-event-1)'));
    } finally {
      warn.mockRestore();
    }
    expect(await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events')).toEqual(before);
  });

  it('a NUL character in a delivery is stored as U+FFFD, and deliveries sharing its batch are accepted too', async () => {
    const { deal, template, headers } = await settledDelivery('Nul');
    const variant = (id: string, title: string) => JSON.stringify({ ...template, meta: { ...template.meta, id }, data: { ...template.data, title } });
    // PostgreSQL's text and jsonb cannot hold U+0000; the escape arrives among ordinary deliveries, as in one batch.
    const bodies = [variant('nul-1', 'Acme \\u0000 \u0000 deal'), ...Array.from({ length: 20 }, (_, index) => variant(`plain-${index}`, 'Acme'))];
    const answers = await Promise.all(bodies.map((body) => fetch(`${s.app.url}/webhooks/pipedrive`, { method: 'POST', headers, body })));
    expect(answers.map((response) => response.status)).toEqual(Array(bodies.length).fill(200));
    const [stored] = (await scenario.db().query(`SELECT payload->'data'->>'title' AS title FROM inbox_events WHERE dedupe_key = 'nul-1'`)) as Array<{ title: string }>;
    expect(stored.title).toBe('Acme \\u0000 \uFFFD deal');
    const nulUser = await fetch(`${s.app.url}/webhooks/pipedrive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('pd\u0000x:guess').toString('base64')}` },
      body: bodies[1],
    });
    expect(nulUser.status).toBe(401);
    await scenario.drained();
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
  });

  it('a deal whose title and contact hold a NUL character and a lone surrogate still gets its task', async () => {
    const person = (await (
      await s.sim(`/companies/${scenario.demo.companyId}/persons`, { body: { name: 'Ned \u0000 Nul \ud800', emails: [{ value: 'ned@customer.test', primary: true }] } })
    ).json()) as { id: number };
    const deal = await scenario.addDeal({ title: 'Initech \u0000 renewal \ud800', person_id: person.id });
    const contract = await scenario.contractSettled(deal.id);
    expect(contract.status).toBe('waiting');
    expect(contract.signers).toEqual([expect.objectContaining({ email: 'ned@customer.test', name: 'Ned \uFFFD Nul \uFFFD' })]);
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
  });

  it('a delivery the database refuses gets a 400, and the deliveries batched with it are stored', async () => {
    const { template, headers } = await settledDelivery('Refused');
    const post = (id: string) => fetch(`${s.app.url}/webhooks/pipedrive`, { method: 'POST', headers, body: JSON.stringify({ ...template, meta: { ...template.meta, id } }) });
    // Slow writes for the first two keep both of the accept's batch slots busy, so the rest share one batch; one
    // key of that batch is refused with a data exception, as an unstorable value would be.
    await scenario.db().query(`
      CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.dedupe_key LIKE 'slow-%' THEN PERFORM pg_sleep(0.3); END IF;
        IF NEW.dedupe_key = 'refused' THEN RAISE EXCEPTION 'value refused' USING ERRCODE = '22023'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_one BEFORE INSERT ON inbox_events FOR EACH ROW EXECUTE FUNCTION refuse_one();`);
    try {
      const slow = [post('slow-1'), post('slow-2')];
      await new Promise((resolve) => setTimeout(resolve, 100));
      const keys = ['refused', ...Array.from({ length: 10 }, (_, index) => `batched-${index}`)];
      const answers = await Promise.all([...slow, ...keys.map(post)]);
      expect(answers.map((response) => response.status)).toEqual([200, 200, 400, ...Array(10).fill(200)]);
      expect(await answers[2].json()).toMatchObject({ error: { code: 'bad_request', message: expect.stringContaining('cannot be stored') } });
      const stored = (await scenario.db().query(`SELECT dedupe_key FROM inbox_events WHERE dedupe_key = ANY($1) ORDER BY dedupe_key`, [keys])) as Array<{ dedupe_key: string }>;
      expect(stored.map((row) => row.dedupe_key)).toEqual(keys.slice(1).sort());
    } finally {
      await scenario.db().query('DROP TRIGGER refuse_one ON inbox_events; DROP FUNCTION refuse_one()');
    }
  });

  it('finished webhook events are deleted by the daily job once older than the retention; pending ones stay', async () => {
    const { deal, template, headers } = await settledDelivery('Kept for a while');
    const createKey = String(template.meta.id);
    const [schedule] = await scenario.db().query(`SELECT cron FROM pgboss.schedule WHERE name = $1`, [PRUNE_INBOX]);
    expect(schedule).toEqual({ cron: '17 3 * * *' });
    await scenario.db().query(`
      INSERT INTO inbox_events (source, dedupe_key, event_type, company_id, payload, status, status_reason)
      VALUES ('pipedrive', 'old-pending', 'deal:create', $1, '{}', 'pending', NULL),
             ('pipedrive', 'old-failed', 'deal:create', $1, '{}', 'failed', 'gave up')`, [scenario.demo.companyId]);
    // More than one delete batch of old events, all gone in one run of the job.
    await scenario.db().query(`
      INSERT INTO inbox_events (source, dedupe_key, event_type, company_id, payload, status, received_at)
      SELECT 'pipedrive', 'old-' || n, 'deal:create', $1, '{}', 'processed', now() - interval '40 days' FROM generate_series(1, 5001) AS n`, [scenario.demo.companyId]);
    await scenario.db().query(`UPDATE inbox_events SET received_at = now() - interval '31 days' WHERE dedupe_key = ANY($1)`, [[createKey, 'old-pending', 'old-failed']]);
    const recent = ((await scenario.db().query(`SELECT id FROM inbox_events WHERE received_at > now() - interval '1 day'`)) as Array<{ id: string }>).map((row) => row.id);
    try {
      await s.app.app.get(JobQueue).send(PRUNE_INBOX, {});
      const keys = async () => ((await scenario.db().query(`SELECT dedupe_key FROM inbox_events WHERE received_at < now() - interval '30 days' ORDER BY dedupe_key`)) as Array<{ dedupe_key: string }>).map((row) => row.dedupe_key);
      await eventually(async () => (await keys()).length === 1, 'the finished old events to be deleted');
      expect(await keys()).toEqual(['old-pending']);
      expect(await scenario.db().query(`SELECT count(*)::int AS count FROM inbox_events WHERE id = ANY($1::bigint[])`, [recent])).toEqual([{ count: recent.length }]);
    } finally {
      await scenario.db().query(`DELETE FROM inbox_events WHERE dedupe_key = 'old-pending'`);
    }

    // Past the retention a redelivery is stored again, and changes nothing: the deal keeps its one task.
    const again = await fetch(`${s.app.url}/webhooks/pipedrive`, { method: 'POST', headers, body: JSON.stringify(template) });
    expect(await again.json()).toEqual({ status: 'accepted' });
    await scenario.drained();
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
  });

  it('an event left pending by a process that stopped on its last try is marked failed with the reason; one whose job is still due stays pending', async () => {
    const { companyId } = scenario.demo;
    const [schedule] = await scenario.db().query(`SELECT cron FROM pgboss.schedule WHERE name = $1`, [FAIL_ABANDONED_EVENTS]);
    expect(schedule).toEqual({ cron: '*/10 * * * *' });
    const insert = async (key: string) =>
      ((await scenario.db().query(
        `INSERT INTO inbox_events (source, dedupe_key, event_type, company_id, payload, status_reason, received_at)
         VALUES ('pipedrive', $1, 'deal:create', $2, '{}', 'retrying: Pipedrive answered 503', now() - interval '20 minutes') RETURNING id`,
        [key, companyId],
      )) as Array<{ id: string }>)[0].id;
    const abandoned = await insert('abandoned-by-a-killed-process');
    const rescheduled = await insert('rescheduled-for-the-daily-reset');
    const jobs = s.app.app.get(JobQueue);
    await jobs.send(PROCESS_INBOX, { inboxId: rescheduled }, { startAfter: new Date(Date.now() + 3_600_000) });
    try {
      await jobs.send(FAIL_ABANDONED_EVENTS, {});
      const row = async (id: string) => ((await scenario.db().query('SELECT status, status_reason FROM inbox_events WHERE id = $1', [id])) as Array<{ status: string; status_reason: string }>)[0];
      await eventually(async () => (await row(abandoned)).status === 'failed', 'the abandoned event marked failed');
      expect((await row(abandoned)).status_reason).toMatch(/^abandoned: its last try stopped without an outcome .* after retrying: Pipedrive answered 503$/);
      expect(await row(rescheduled)).toEqual({ status: 'pending', status_reason: 'retrying: Pipedrive answered 503' });
    } finally {
      await scenario.db().query('DELETE FROM inbox_events WHERE id = ANY($1::bigint[])', [[abandoned, rescheduled]]);
    }
  });

  it('with no default template chosen ("no automatic contracts"), a new deal gets no contract, and its event says why', async () => {
    const settings = (body: unknown) => s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/settings', { method: 'PUT', body });
    expect((await settings({ templateId: null })).status).toBe(200);
    try {
      const deal = await scenario.addDeal({ title: 'No template chosen', person_id: scenario.demo.personWithEmailId });
      const [event] = await eventually(async () => {
        const rows = (await scenario.db().query(`SELECT status, status_reason FROM inbox_events WHERE payload->'meta'->>'entity_id' = $1 AND status <> 'pending'`, [String(deal.id)])) as Array<{ status: string; status_reason: string }>;
        return rows.length ? rows : undefined;
      }, 'the create event handled');
      expect(event).toEqual({ status: 'ignored', status_reason: 'no default template is chosen' });
      expect(await scenario.contracts(deal.id)).toHaveLength(0);
    } finally {
      expect((await settings({ templateId })).status).toBe(200);
    }
  });

  /** A second contract intent for a settled deal, to send directly as a job's (or the panel's) last try would. */
  async function secondIntent(title: string) {
    const deal = await scenario.addDeal({ title, person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(deal.id);
    const key = await s.app.app.get(ContractsRepository).createIntent({
      companyId: String(scenario.demo.companyId),
      dealId: String(deal.id),
      intentKey: `test:${title}`,
      templateId: String(templateId),
      title: 'Second contract',
    });
    const tasksOfContract = async (contractId: string) => (await scenario.tasksForDeal(deal.id)).filter((task) => task.metadata.pipedrive_contract_id === contractId);
    return { deal, key, tasksOfContract };
  }

  it('on a last try, a task DottedSign created whose read-back then failed is recorded, not reported as failed', async () => {
    const { key, tasksOfContract } = await secondIntent('Read-back fails');
    await s.dsim('/faults', { body: { method: 'GET', path: '/v1/sign_tasks/read', status: 503, count: 3 } });
    try {
      const contract = await s.app.app.get(ContractSender).send(key, { finalAttempt: true });
      const [task] = await tasksOfContract(contract!.id);
      expect(contract).toMatchObject({ status: 'waiting', taskId: String(task.task_id) });
      expect(await tasksOfContract(contract!.id)).toHaveLength(1);
    } finally {
      await s.dsim('/faults', { method: 'DELETE' });
    }
  });

  it('on a last try, a create DottedSign carried out but whose answer was lost adopts that task instead of failing', async () => {
    const { key, tasksOfContract } = await secondIntent('Answer lost');
    await s.dsim('/faults', { body: { method: 'POST', path: '/v1/sign_tasks/quick_create', status: 502, after: true } });
    const contract = await s.app.app.get(ContractSender).send(key, { finalAttempt: true });
    const tasks = await tasksOfContract(contract!.id);
    expect(tasks).toHaveLength(1);
    expect(contract).toMatchObject({ status: 'waiting', taskId: String(tasks[0].task_id) });
  });

  it('two tasks found for one contract, one already signed: the send follows the signed one and voids the other', async () => {
    const { deal, key } = await secondIntent('Signed twin');
    const [intent] = (await scenario.contracts(deal.id)).filter((row) => row.status === 'pending');
    const metadata = { pipedrive_deal_id: String(deal.id), pipedrive_company_id: String(scenario.demo.companyId), pipedrive_contract_id: String(intent.id) };
    // Their webhooks are lost, so only the send's search finds them: the signed one first, the other updated later.
    await s.dsim('/webhooks/drop', { body: { count: 6 } });
    const signed = await createTaskAtDottedSign('Signed twin', metadata, true);
    expect((await s.dsim(`/tasks/${signed}/sign`, { body: { email: 'pia@customer.test' } })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = await createTaskAtDottedSign('Signed twin', metadata, true);

    const contract = await s.app.app.get(ContractSender).send(key, { finalAttempt: false });
    expect(contract).toMatchObject({ status: 'completed', taskId: signed });
    const statusOf = async (taskId: string) => (await scenario.tasksForDeal(deal.id)).find((task) => String(task.task_id) === taskId)?.status;
    expect(await statusOf(later)).toBe('voided');
  });

  it('DottedSign not connected → a failed contract that says so', async () => {
    const disconnected = await s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/dottedsign/connection', { method: 'DELETE' });
    expect(disconnected.status).toBe(200);
    try {
      const deal = await scenario.addDeal({ title: 'No connection', person_id: scenario.demo.personWithEmailId });
      const contract = await scenario.contractSettled(deal.id);
      expect(contract).toMatchObject({ status: 'failed', status_reason: expect.stringContaining('DottedSign is not connected') });
    } finally {
      await s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/dottedsign/connect-app-account', { method: 'POST', body: {} });
    }
  });

  it('DottedSign disconnected while a send is under way → a failed contract that says so, not an error', async () => {
    const deal = await scenario.addDeal({ title: 'Disconnected mid-send', person_id: scenario.demo.personWithEmailId });
    await scenario.contractSettled(deal.id);
    const context = (await s.app.app.get(CompanyContext).load(String(scenario.demo.companyId)))!;
    expect(context.connection).not.toBeNull();
    const intent = await s.app.app.get(ContractsRepository).createIntent({
      companyId: String(scenario.demo.companyId),
      dealId: String(deal.id),
      intentKey: 'test:disconnected-mid-send',
      templateId: String(templateId),
      title: 'Second contract',
    });
    expect((await s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/dottedsign/connection', { method: 'DELETE' })).status).toBe(200);
    try {
      // The send started with the context read before the disconnect, as a job that was already running would.
      const contract = await s.app.app.get(ContractSender).send(intent, { finalAttempt: false, context });
      expect(contract).toMatchObject({ status: 'failed', statusReason: expect.stringContaining('DottedSign is not connected'), taskId: null });
    } finally {
      await s.api(scenario.demo.companyId, scenario.demo.adminUserId, '/api/dottedsign/connect-app-account', { method: 'POST', body: {} });
    }
  });
});
