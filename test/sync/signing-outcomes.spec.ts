import { createHmac, randomBytes } from 'node:crypto';
import { ContractsRepository } from '../../src/signing/contracts.repository';
import { Reconciler } from '../../src/signing/reconciler.service';
import { SigningOutcomes } from '../../src/signing/signing-outcomes.service';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { eventually } from '../support/test-app';

interface Delivery {
  body: string;
  headers: Record<string, string>;
  outcome: string;
}

describe('signing outcomes: DottedSign webhooks, write-back to the deal, reconciliation (app + both simulators)', () => {
  let s: Sandbox;
  let scenario: Scenario;
  const signer = 'pia@customer.test';

  beforeAll(async () => {
    s = await startSandbox();
    scenario = new Scenario(s);
    await scenario.installAndConnect();
  });
  afterAll(() => s?.close());

  /** A deal whose contract went out and waits for the signer. */
  async function waitingContract(title: string) {
    const deal = await scenario.addDeal({ title, person_id: scenario.demo.personWithEmailId });
    const contract = await scenario.contractSettled(deal.id);
    expect(contract.status).toBe('waiting');
    return { dealId: deal.id, contractId: String(contract.id), taskId: String(contract.task_id) };
  }

  async function pipedriveCalls(method: string, path: string): Promise<Array<{ path: string; status: number; body: Record<string, unknown> }>> {
    const all = (await (await s.sim(`/requests?method=${method}`)).json()) as Array<{ path: string; status: number; body: Record<string, unknown> }>;
    return all.filter((entry) => entry.path.endsWith(path));
  }

  async function dealOf(dealId: number) {
    return (await (await s.sim(`/companies/${scenario.demo.companyId}/deals/${dealId}`)).json()) as { status: string };
  }

  async function filesOf(dealId: number) {
    const files = (await (await s.sim(`/companies/${scenario.demo.companyId}/files`)).json()) as Array<{ deal_id: number; file_name: string; file_size: number }>;
    return files.filter((file) => file.deal_id === dealId);
  }

  async function notesOf(dealId: number) {
    const notes = (await (await s.sim(`/companies/${scenario.demo.companyId}/notes`)).json()) as Array<{ deal_id: number; content: string }>;
    return notes.filter((note) => note.deal_id === dealId);
  }

  async function timeline(contractId: string): Promise<Array<{ type: string; actor: string | null; details: Record<string, unknown> }>> {
    return scenario.db().query('SELECT type, actor, details FROM contract_events WHERE contract_id = $1 ORDER BY at, id', [contractId]);
  }

  async function contract(contractId: string) {
    const [row] = await scenario.db().query('SELECT * FROM contracts WHERE id = $1', [contractId]);
    return row as Record<string, any>;
  }

  async function writtenBack(contractId: string) {
    return eventually(async () => {
      const row = await contract(contractId);
      return row.effects?.writeBackDone ? row : undefined;
    }, `write-back of contract ${contractId}`, 20000);
  }

  async function dottedsignDeliveries(taskId: string): Promise<Array<Delivery & { action: string }>> {
    const all = (await (await s.dsim('/webhooks/deliveries')).json()) as Delivery[];
    return all
      .map((delivery) => ({ ...delivery, parsed: JSON.parse(delivery.body) as { action_name: string; task?: { task_id?: unknown } } }))
      .filter((delivery) => String(delivery.parsed.task?.task_id) === taskId)
      .map(({ parsed, ...delivery }) => ({ ...delivery, action: parsed.action_name }));
  }

  async function pipedriveDeliveries(): Promise<Delivery[]> {
    return (await (await s.sim('/webhooks/deliveries')).json()) as Delivery[];
  }

  it('a signer signing in DottedSign marks the deal won, attaches the signed PDF and the audit trail, and writes one note', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Initech renewal');
    await s.sim('/requests', { method: 'DELETE' });
    expect((await s.dsim(`/tasks/${taskId}/view`, { body: { email: signer } })).status).toBe(200);
    expect((await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } })).status).toBe(200);

    const done = await writtenBack(contractId);
    expect(done.status).toBe('completed');
    expect(done.signers).toEqual([expect.objectContaining({ email: signer, status: 'signed', signedAt: expect.any(String) })]);
    expect((await dealOf(dealId)).status).toBe('won');

    const files = await filesOf(dealId);
    expect(files.map((file) => file.file_name).sort()).toEqual([
      `Initech renewal - audit trail (contract ${contractId}).pdf`,
      `Initech renewal - signed (contract ${contractId}).pdf`,
    ]);
    expect(files.every((file) => file.file_size > 500)).toBe(true);
    const notes = await notesOf(dealId);
    expect(notes).toHaveLength(1);
    expect(notes[0].content).toContain('Initech renewal');
    expect(notes[0].content).toContain(signer);

    // The same, as Pipedrive saw it over HTTP.
    expect(await pipedriveCalls('PATCH', `/api/v2/deals/${dealId}`)).toEqual([expect.objectContaining({ status: 200, body: { status: 'won' } })]);
    expect((await pipedriveCalls('POST', '/api/v1/files')).filter((call) => call.status === 201 || call.status === 200)).toHaveLength(2);
    expect(await pipedriveCalls('POST', '/api/v1/notes')).toHaveLength(1);

    await scenario.drained();
    // One line per step, though our own call and DottedSign's webhooks both reported "created" and "sent".
    expect((await timeline(contractId)).map((event) => event.type).sort()).toEqual(
      ['created', 'sent', 'viewed', 'signed', 'completed', 'deal_won', 'file_attached', 'file_attached', 'note_written'].sort(),
    );
    const signed = (await timeline(contractId)).find((event) => event.type === 'signed')!;
    expect(signed.actor).toBe(signer);
  });

  it('the completed webhook delivered 5 times at once, racing a reconciliation cycle, wins the deal once, uploads each file once and writes one note', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Five deliveries');
    // Let DottedSign's own deliveries of this signing vanish; replay the completed one ourselves.
    await s.dsim('/webhooks/drop', { body: { count: 2 } });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    const completed = await eventually(async () => {
      return (await dottedsignDeliveries(taskId)).find((delivery) => delivery.action === 'completed');
    }, 'the dropped completed delivery to be logged');
    expect(completed.outcome).toBe('dropped');
    await s.sim('/requests', { method: 'DELETE' });

    const headers = { 'content-type': 'application/json', signature: completed.headers.signature ?? completed.headers.Signature };
    // A reconciliation cycle racing the deliveries takes the same path and must not add a second effect.
    const [answers] = await Promise.all([
      Promise.all(Array.from({ length: 5 }, () => fetch(`${s.app.url}/webhooks/dottedsign`, { method: 'POST', headers, body: completed.body }))),
      s.app.app.get(Reconciler).runCycle(),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);

    await writtenBack(contractId);
    await scenario.drained();
    expect(await pipedriveCalls('PATCH', `/api/v2/deals/${dealId}`)).toHaveLength(1);
    expect(await filesOf(dealId)).toHaveLength(2);
    expect(await pipedriveCalls('POST', '/api/v1/files')).toHaveLength(2);
    expect(await notesOf(dealId)).toHaveLength(1);
    const [{ count }] = await scenario.db().query(`SELECT count(*)::int AS count FROM inbox_events WHERE source = 'dottedsign' AND event_type = 'task:completed' AND payload->'event'->>'taskId' = $1`, [taskId]);
    expect(count).toBe(1);
  });

  it('a late "signed" after "completed" never moves the contract backwards', async () => {
    const { contractId, taskId } = await waitingContract('Out of order');
    await s.dsim('/webhooks/hold', { body: {} });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await eventually(async () => (await (await s.dsim(`/tasks/${taskId}`)).json()).status === 'completed', 'task completed');
    expect((await s.dsim('/webhooks/release', { body: { order: 'reverse' } })).status).toBe(200);
    await writtenBack(contractId);
    await scenario.drained();
    const row = await contract(contractId);
    expect(row.status).toBe('completed');
    expect(row.signers).toEqual([expect.objectContaining({ email: signer, status: 'signed' })]);
  });

  it('a write-back asked for while a reconciliation is writing back the same contract still happens, though that run read it before it was final', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Hooli pilot');
    const contracts = s.app.app.get(ContractsRepository);
    const read = contracts.byId.bind(contracts);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let heldReads = 0;
    // The reconciliation's write-back reads the contract (still waiting), then is held before it can act on that read.
    const spy = jest.spyOn(contracts, 'byId').mockImplementation(async (id, manager) => {
      const row = await read(id, manager);
      if (id === contractId && !manager && heldReads++ === 0) await held;
      return row;
    });
    try {
      const early = s.app.app.get(SigningOutcomes).writeBack({ id: contractId, companyId: String(scenario.demo.companyId), dealId: String(dealId) });
      await eventually(async () => heldReads > 0, 'the early write-back read the contract');
      await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
      await eventually(async () => (await contract(contractId)).status === 'completed', 'completed webhook applied');
      release();
      await early;
      await writtenBack(contractId);
    } finally {
      release();
      spy.mockRestore();
    }
    expect((await dealOf(dealId)).status).toBe('won');
    expect(await filesOf(dealId)).toHaveLength(2);
  });

  it('webhooks dropped by DottedSign: one reconciliation cycle completes the contract and does the write-back', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Lost webhooks');
    await s.dsim('/webhooks/drop', { body: { count: 2 } });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await eventually(async () => (await dottedsignDeliveries(taskId)).filter((delivery) => delivery.outcome === 'dropped').length === 2, 'both deliveries dropped');
    expect((await contract(contractId)).status).toBe('waiting');

    const report = await s.app.app.get(Reconciler).runCycle();
    expect(report.changed).toBeGreaterThanOrEqual(1);
    const row = await contract(contractId);
    expect(row.status).toBe('completed');
    expect(row.effects.writeBackDone).toBeTruthy();
    expect((await dealOf(dealId)).status).toBe('won');
    expect(await filesOf(dealId)).toHaveLength(2);
    expect(await notesOf(dealId)).toHaveLength(1);
    expect((await timeline(contractId)).find((event) => event.type === 'completed')?.details).toMatchObject({ via: 'reconciliation' });
  });

  it('webhooks dropped while Pipedrive refuses to show the deal: reconciliation still shows the contract completed; the write-back waits for Pipedrive', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Lost webhooks, hidden deal');
    await s.dsim('/webhooks/drop', { body: { count: 2 } });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await eventually(async () => (await dottedsignDeliveries(taskId)).filter((delivery) => delivery.outcome === 'dropped').length === 2, 'both deliveries dropped');
    const dealPath = `/c/${scenario.demo.companyId}/api/v2/deals/${dealId}`;
    await s.sim('/faults', { body: { method: 'GET', path: dealPath, status: 403, count: 1000, body: { success: false, error: 'You do not have permissions to view this deal' } } });
    try {
      await s.app.app.get(Reconciler).runCycle();
      const row = await contract(contractId);
      expect(row.status).toBe('completed');
      expect((await dealOf(dealId)).status).toBe('open');
    } finally {
      await s.sim('/faults', { method: 'DELETE' });
    }
    await s.app.app.get(Reconciler).runCycle();
    expect((await writtenBack(contractId)).status).toBe('completed');
    expect((await dealOf(dealId)).status).toBe('won');
  });

  it('a completed webhook while Pipedrive refuses to show the deal: the write-back waits, and wins the deal once Pipedrive shows it again', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Hidden deal at completion');
    const dealPath = `/c/${scenario.demo.companyId}/api/v2/deals/${dealId}`;
    await s.sim('/faults', { body: { method: 'GET', path: dealPath, status: 403, count: 1000, body: { success: false, error: 'You do not have permissions to view this deal' } } });
    try {
      await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
      // The write-back's transaction ends after the refused read: wait for its event to be set to retry.
      await eventually(async () => {
        const [{ count }] = await scenario.db().query(
          `SELECT count(*)::int AS count FROM inbox_events WHERE source = 'dottedsign' AND payload->'event'->>'taskId' = $1 AND status_reason LIKE 'retrying:%'`,
          [taskId],
        );
        return count > 0;
      }, 'the write-back to meet the refusal and be retried');
      expect((await pipedriveCalls('GET', dealPath)).some((call) => call.status === 403)).toBe(true);
      const row = await contract(contractId);
      expect(row.effects?.skipped ?? {}).toEqual({});
      expect(row.effects?.writeBackDone).toBeUndefined();
    } finally {
      await s.sim('/faults', { method: 'DELETE' });
    }
    expect((await writtenBack(contractId)).effects.skipped ?? {}).toEqual({});
    expect((await dealOf(dealId)).status).toBe('won');
    expect(await filesOf(dealId)).toHaveLength(2);
  });

  it('reconciliation reaches a contract checked long ago even when more new contracts than a cycle checks keep arriving', async () => {
    const db = scenario.db();
    const companyId = 990_001; // installed nowhere: its contracts are selected, then skipped without any API call
    await db.query(`INSERT INTO companies (id, name, domain) VALUES ($1, 'Busy company', 'busy')`, [companyId]);
    try {
      const [{ id: oldId }] = await db.query(
        `INSERT INTO contracts (company_id, deal_id, intent_key, title, status, task_id, created_at, last_checked_at)
         VALUES ($1, 1, 'old', 'Checked yesterday', 'waiting', 'busy-old', now() - interval '2 days', now() - interval '1 day') RETURNING id`,
        [companyId],
      );
      // More never-checked contracts than one company gets per cycle (50).
      await db.query(
        `INSERT INTO contracts (company_id, deal_id, intent_key, title, status, task_id)
         SELECT $1, 2 + n, 'new-' || n, 'Just sent', 'waiting', 'busy-new-' || n FROM generate_series(1, 60) n`,
        [companyId],
      );
      await s.app.app.get(Reconciler).runCycle();
      const [old] = await db.query(`SELECT last_checked_at > now() - interval '1 minute' AS checked FROM contracts WHERE id = $1`, [oldId]);
      expect(old.checked).toBe(true);
    } finally {
      await db.query('DELETE FROM companies WHERE id = $1', [companyId]);
    }
  });

  it('a lost webhook of one of two signers: one reconciliation cycle shows that signer as signed, the contract still waiting', async () => {
    const deal = await scenario.addDeal({ title: 'Two signers' });
    const sent = await s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/deals/${deal.id}/contracts`, {
      body: { signers: [{ name: 'Pia Buyer', email: signer }, { name: 'Sam Second', email: 'sam@customer.test' }] },
    });
    expect(sent.status).toBe(201);
    const { contract: created } = (await sent.json()) as { contract: { id: number; taskId: string; status: string } };
    expect(created.status).toBe('waiting');
    await scenario.drained();
    const taskId = String(created.taskId);
    const earlier = (await dottedsignDeliveries(taskId)).length;
    await s.dsim('/webhooks/drop', { body: { count: 1 } });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await eventually(async () => (await dottedsignDeliveries(taskId)).slice(earlier).some((delivery) => delivery.outcome === 'dropped'), 'the signed delivery dropped');
    const statuses = async () => ((await contract(String(created.id))).signers as Array<{ email: string; status: string }>).map((one) => one.status);
    expect(await statuses()).toEqual(['waiting', 'waiting']);

    await s.app.app.get(Reconciler).runCycle();
    expect(await statuses()).toEqual(['signed', 'waiting']);
    expect((await contract(String(created.id))).status).toBe('waiting');
  });

  it('a panel send cut off before DottedSign was asked (the process died): reconciliation sends it once it is 15 minutes old, not before', async () => {
    const { dealId } = await waitingContract('Send cut off');
    const intent = async (key: string, age: string) => {
      const [row] = await scenario.db().query(
        `INSERT INTO contracts (company_id, deal_id, intent_key, title, status, signers, created_by_user_id, created_at)
         VALUES ($1, $2, $3, 'Send cut off', 'pending', $4, $5, now() - $6::interval) RETURNING id`,
        [scenario.demo.companyId, dealId, key, JSON.stringify([{ name: 'Pia Buyer', email: signer, status: 'waiting', signedAt: null }]), scenario.demo.adminUserId, age],
      );
      return String(row.id);
    };
    const stale = await intent('panel:cut-off', '16 minutes');
    const fresh = await intent('panel:in-flight', '1 minute');

    await s.app.app.get(Reconciler).runCycle();
    const sent = await contract(stale);
    expect(sent.status).toBe('waiting');
    const tasks = (await scenario.tasksForDeal(dealId)).filter((task) => String(task.metadata.pipedrive_contract_id) === stale);
    expect(tasks.map((task) => String(task.task_id))).toEqual([sent.task_id]);
    expect((await contract(fresh)).status).toBe('pending');

    await s.app.app.get(Reconciler).runCycle();
    expect((await scenario.tasksForDeal(dealId)).filter((task) => String(task.metadata.pipedrive_contract_id) === stale)).toHaveLength(1);
  });

  it('an auto-send cut off in its last try after DottedSign made the task: reconciliation finishes it once its job would have given up (45 minutes), adopting that task', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Auto-send cut off');
    // As if the process died between DottedSign's answer and the commit of the job's last try.
    const cutOff = (age: string) => scenario.db().query(`UPDATE contracts SET status = 'pending', task_id = NULL, created_at = now() - $2::interval WHERE id = $1`, [contractId, age]);
    await cutOff('20 minutes');
    await s.app.app.get(Reconciler).runCycle();
    expect(await contract(contractId)).toMatchObject({ status: 'pending', task_id: null });

    await cutOff('46 minutes');
    await s.app.app.get(Reconciler).runCycle();
    expect(await contract(contractId)).toMatchObject({ status: 'waiting', task_id: taskId });
    expect((await scenario.tasksForDeal(dealId)).map((task) => String(task.task_id))).toEqual([taskId]);
  });

  it('a deal added while its create webhook was lost (a banned webhook): reconciliation sends its contract, once', async () => {
    await s.sim('/webhooks/drop', { body: { count: 1 } });
    const deal = await scenario.addDeal({ title: 'Created unheard', person_id: scenario.demo.personWithEmailId });
    await eventually(async () => (await pipedriveDeliveries()).some((delivery) => delivery.outcome === 'dropped' && delivery.body.includes(`"entity_id":"${deal.id}"`)), 'the create delivery dropped');
    expect(await scenario.contracts(deal.id)).toHaveLength(0);

    // Not due yet: a company's deals are swept every RECONCILE_DEALS_INTERVAL_SECONDS (30 minutes).
    expect((await s.app.app.get(Reconciler).runCycle()).dealsMissed).toBe(0);
    await scenario.db().query(`UPDATE companies SET deals_swept_at = now() - interval '31 minutes'`);
    expect((await s.app.app.get(Reconciler).runCycle()).dealsMissed).toBe(1);
    const sent = await scenario.contractSettled(deal.id);
    expect(sent.status).toBe('waiting');
    // The event's outcome is recorded just after the contract it sent.
    const [event] = await eventually(async () => {
      const rows = (await scenario.db().query(`SELECT status, status_reason FROM inbox_events WHERE event_type = 'deal:missed' AND status <> 'pending'`)) as unknown[];
      return rows.length ? rows : undefined;
    }, 'the missed deal’s event finished');
    expect(event).toMatchObject({ status: 'processed', status_reason: expect.stringContaining(`contract ${sent.id}`) });

    // Swept again, and the webhook delivered late after all: still one contract and one task.
    await scenario.db().query(`UPDATE companies SET deals_swept_at = now() - interval '31 minutes', deals_swept_until = now() - interval '1 hour'`);
    expect((await s.app.app.get(Reconciler).runCycle()).dealsMissed).toBe(0);
    const [late] = (await pipedriveDeliveries()).filter((delivery) => delivery.outcome === 'dropped' && delivery.body.includes(`"entity_id":"${deal.id}"`));
    const replay = await fetch(`${s.app.url}/webhooks/pipedrive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: late.headers.authorization },
      body: late.body,
    });
    expect(replay.status).toBe(200);
    await scenario.drained();
    expect(await scenario.contracts(deal.id)).toHaveLength(1);
    expect(await scenario.tasksForDeal(deal.id)).toHaveLength(1);
    // The demo deal was there before the install: no sweep gives it a contract.
    expect(await scenario.contracts(scenario.demo.dealId)).toHaveLength(0);
  });

  it('a deal added while auto-send was off is not sent when it is turned on again; one added after, with its webhook lost, is', async () => {
    const admin = scenario.demo.adminUserId;
    const autoSend = async (enabled: boolean) =>
      expect((await s.api(scenario.demo.companyId, admin, '/api/settings', { method: 'PUT', body: { autoSend: { enabled } } })).status).toBe(200);
    await autoSend(false);
    const whileOff = await scenario.addDeal({ title: 'Added while off', person_id: scenario.demo.personWithEmailId });
    const [ignored] = await eventually(async () => {
      const rows = (await scenario.db().query(`SELECT status_reason FROM inbox_events WHERE status = 'ignored' AND payload->'meta'->>'entity_id' = $1`, [String(whileOff.id)])) as Array<{ status_reason: string }>;
      return rows.length ? rows : undefined;
    }, 'the create event ignored');
    expect(ignored.status_reason).toContain('auto-send is off');
    expect(await scenario.contracts(whileOff.id)).toHaveLength(0);
    // No sweep ran while auto-send was off: the next one reads the deals added since before it was turned off.
    await scenario.db().query(`UPDATE companies SET deals_swept_until = now() - interval '1 hour'`);
    await autoSend(true);

    // Pipedrive's add times have whole seconds: the next deal is added in a later second than the change.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await s.sim('/webhooks/drop', { body: { count: 1 } });
    const whileOn = await scenario.addDeal({ title: 'Added unheard after', person_id: scenario.demo.personWithEmailId });
    await eventually(async () => (await pipedriveDeliveries()).some((delivery) => delivery.outcome === 'dropped' && delivery.body.includes(`"entity_id":"${whileOn.id}"`)), 'the create delivery dropped');
    await scenario.db().query(`UPDATE companies SET deals_swept_at = now() - interval '31 minutes'`);
    expect((await s.app.app.get(Reconciler).runCycle()).dealsMissed).toBe(1);
    expect((await scenario.contractSettled(whileOn.id)).status).toBe('waiting');
    expect(await scenario.contracts(whileOff.id)).toHaveLength(0);
    expect(await scenario.tasksForDeal(whileOff.id)).toHaveLength(0);
  });

  it('a task deleted in DottedSign with its webhook lost: reconciliation shows it on the contract, once, and the panel\'s Void ends it', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Deleted at DottedSign');
    await s.dsim('/webhooks/drop', { body: { count: 1 } });
    await s.dsim(`/tasks/${taskId}/delete`, { body: {} });
    await eventually(async () => (await dottedsignDeliveries(taskId)).some((delivery) => delivery.action === 'voided' && delivery.outcome === 'dropped'), 'the voided webhook dropped');

    // It stays open: the same answer could hide a signature, so only a person ends it.
    expect((await s.app.app.get(Reconciler).runCycle()).changed).toBeGreaterThanOrEqual(1);
    await s.app.app.get(Reconciler).runCycle();
    expect(await contract(contractId)).toMatchObject({ status: 'waiting', status_reason: 'DottedSign reports this signing task deleted. Void the contract to end it here.' });
    expect((await timeline(contractId)).filter((event) => event.type === 'task_deleted')).toHaveLength(1);

    const { companyId, adminUserId } = scenario.demo;
    const voided = await s.api(companyId, adminUserId, `/api/contracts/${contractId}/void`, { method: 'POST' });
    expect(voided.status).toBe(200);
    expect(((await voided.json()) as { contract: { status: string; statusReason: string } }).contract).toMatchObject({
      status: 'voided',
      statusReason: 'Voided from Pipedrive; DottedSign had deleted the task',
    });
    // No webhook follows a deleted task: the next cycle writes the voided contract's note.
    await s.app.app.get(Reconciler).runCycle();
    expect((await notesOf(dealId)).map((note) => note.content)).toEqual([expect.stringContaining('was voided: Voided from Pipedrive; DottedSign had deleted the task')]);
    expect((await dealOf(dealId)).status).toBe('open');
  });

  it('a contract marked as deleted in DottedSign whose task reads alive again (its account reconnected) loses the mark at the next cycle', async () => {
    const { contractId } = await waitingContract('Alive again');
    await scenario.db().query('UPDATE contracts SET status_reason = $2 WHERE id = $1', [contractId, 'DottedSign reports this signing task deleted. Void the contract to end it here.']);
    await s.app.app.get(Reconciler).runCycle();
    expect(await contract(contractId)).toMatchObject({ status: 'waiting', status_reason: null });
  });

  it('a deal deleted while its webhook was lost: reconciliation voids the task', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Deleted quietly');
    await s.sim('/webhooks/drop', { body: { count: 1 } });
    await scenario.deleteDeal(dealId);
    expect((await contract(contractId)).status).toBe('waiting');

    const report = await s.app.app.get(Reconciler).runCycle();
    expect(report.dealsGone).toBeGreaterThanOrEqual(1);
    expect((await contract(contractId)).status).toBe('voided');
    expect(((await (await s.dsim(`/tasks/${taskId}`)).json()) as { status: string }).status).toBe('voided');
  });

  it('DottedSign answering 503 once to a file download and once to its link: each read is tried again at once, and the write-back finishes without being put back', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Busy DottedSign files');
    await s.dsim('/faults', {
      body: {
        rules: [
          { method: 'GET', path: '/files/*', status: 503, count: 1 },
          { method: 'GET', path: '/v1/sign_tasks/download_link', status: 503, count: 1, body: { error_code: 503000, error_key: 'service_unavailable', error_message: 'busy' } },
        ],
      },
    });
    await s.dsim('/requests', { method: 'DELETE' });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await writtenBack(contractId);
    const reads = (await (await s.dsim('/requests?method=GET')).json()) as Array<{ path: string; status: number }>;
    expect(reads.filter((read) => read.status === 503)).toHaveLength(2);
    expect(await filesOf(dealId)).toHaveLength(2);
    expect((await dealOf(dealId)).status).toBe('won');
    const [{ retried }] = await scenario.db().query(
      `SELECT count(*)::int AS retried FROM pgboss.job j JOIN inbox_events i ON i.id = (j.data->>'inboxId')::bigint
       WHERE j.name = 'inbox.process' AND j.retry_count > 0 AND i.source = 'dottedsign' AND i.dedupe_key LIKE $1`,
      [`${taskId}:%`],
    );
    expect(retried).toBe(0);
  });

  it('Pipedrive answering 429 and then 500 on the upload: retried, and each file is attached once', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Busy Pipedrive');
    const filesPath = `/c/${scenario.demo.companyId}/api/v1/files`;
    await s.sim('/faults', {
      body: {
        rules: [
          { method: 'POST', path: filesPath, status: 429, count: 1, body: { success: false, error: 'Request over limit' }, headers: { 'x-ratelimit-limit': '80', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' } },
          { method: 'POST', path: filesPath, status: 500, count: 1, body: { success: false, error: 'Internal server error' } },
        ],
      },
    });
    await s.sim('/requests', { method: 'DELETE' });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await writtenBack(contractId);
    const uploads = await pipedriveCalls('POST', '/api/v1/files');
    expect(uploads.map((call) => call.status)).toEqual(expect.arrayContaining([429, 500]));
    expect(await filesOf(dealId)).toHaveLength(2);
    expect(await notesOf(dealId)).toHaveLength(1);
    expect((await dealOf(dealId)).status).toBe('won');
  });

  it('a deal with 150 files: a write-back retried after its uploads were not recorded finds them past the first page and uploads none twice', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Crowded deal');
    const filler = await s.sim(`/companies/${scenario.demo.companyId}/files`, { body: { dealId, names: Array.from({ length: 150 }, (_, n) => `Earlier file ${n + 1}.txt`) } });
    expect(filler.status).toBe(201);
    // The note fails once after both uploads, so the write-back's records roll back and the retry looks for the files.
    await s.sim('/faults', { body: { method: 'POST', path: `/c/${scenario.demo.companyId}/api/v1/notes`, status: 500, count: 1, body: { success: false, error: 'Internal server error' } } });
    await s.sim('/requests', { method: 'DELETE' });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await writtenBack(contractId);
    expect((await pipedriveCalls('POST', '/api/v1/notes')).map((call) => call.status)).toContain(500);
    const ours = (await filesOf(dealId)).filter((file) => file.file_name.includes(`(contract ${contractId})`));
    expect(ours).toHaveLength(2);
    expect(await filesOf(dealId)).toHaveLength(152);
    expect(await notesOf(dealId)).toHaveLength(1);
  });

  it('a title with a line break, cut inside an emoji at the file name\'s length: a retried write-back finds its files again and uploads none twice', async () => {
    const title = `Línea one\nLine two ${'x'.repeat(130)}😀 tail`;
    const { dealId, contractId, taskId } = await waitingContract(title);
    expect((await scenario.contracts(dealId))[0].title).toBe(title);
    await s.sim('/faults', { body: { method: 'POST', path: `/c/${scenario.demo.companyId}/api/v1/notes`, status: 500, count: 1, body: { success: false, error: 'Internal server error' } } });
    await s.sim('/requests', { method: 'DELETE' });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    await writtenBack(contractId);
    expect((await pipedriveCalls('POST', '/api/v1/notes')).map((call) => call.status)).toContain(500);
    const names = (await filesOf(dealId)).map((file) => file.file_name).sort();
    expect(names).toEqual([
      `Línea one Line two ${'x'.repeat(130)} - audit trail (contract ${contractId}).pdf`,
      `Línea one Line two ${'x'.repeat(130)} - signed (contract ${contractId}).pdf`,
    ]);
    expect(await notesOf(dealId)).toHaveLength(1);
  });

  it('DottedSign refusing the signed files for good: the deal is still won, the note says why the PDFs are missing, and nothing retries', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Files withheld');
    await s.dsim('/faults', {
      body: { method: 'GET', path: '/v1/sign_tasks/download_link', status: 404, count: 2, body: { error_code: 404001, error_key: 'not_found', error_message: 'task not found' } },
    });
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    const done = await writtenBack(contractId);
    expect(done.effects.skipped).toEqual({ 'file:completed': expect.stringContaining('DottedSign refused it'), 'file:audit_trail': expect.stringContaining('DottedSign refused it') });
    expect((await dealOf(dealId)).status).toBe('won');
    expect(await filesOf(dealId)).toHaveLength(0);
    const [note] = await notesOf(dealId);
    expect(note.content).toContain('The signed PDF was not attached: DottedSign refused it');
    expect(note.content).toContain('The audit trail PDF was not attached');
    expect((await timeline(contractId)).filter((line) => line.type === 'write_back_skipped')).toHaveLength(2);
    await scenario.drained();
    const [{ count }] = await scenario.db().query(`SELECT count(*)::int AS count FROM inbox_events WHERE status_reason LIKE 'retrying:%'`);
    expect(count).toBe(0);
  });

  it('a forged or missing signature is refused with 401 and nothing is stored', async () => {
    const [{ count: before }] = await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events');
    const body = JSON.stringify({ resource_type: 'SignTask', resource_id: 1, action_name: 'completed', event_datetime: 1, task: { task_id: 1 } });
    const forged = createHmac('sha256', 'not-the-secret').update(body).digest('hex');
    const answers = await Promise.all([
      fetch(`${s.app.url}/webhooks/dottedsign`, { method: 'POST', headers: { 'content-type': 'application/json', signature: forged }, body }),
      fetch(`${s.app.url}/webhooks/dottedsign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([401, 401]);
    const [{ count: after }] = await scenario.db().query('SELECT count(*)::int AS count FROM inbox_events');
    expect(after).toBe(before);
  });

  it('a correctly signed event with an unknown action, or for a task we never made, is stored and ignored', async () => {
    const sign = (body: string) => createHmac('sha256', s.credentials.dottedsignClientSecret).update(body).digest('hex');
    const unknownAction = JSON.stringify({ resource_type: 'SignTask', resource_id: 991, action_name: 'teleported', event_datetime: 1700000000, task: { task_id: 991 } });
    const unknownTask = JSON.stringify({ resource_type: 'task', resource_id: 992, action_name: 'completed', event_datetime: 1700000000, task: { task_id: 992 } });
    for (const body of [unknownAction, unknownTask]) {
      const answer = await fetch(`${s.app.url}/webhooks/dottedsign`, { method: 'POST', headers: { 'content-type': 'application/json', signature: sign(body) }, body });
      expect(answer.status).toBe(200);
    }
    await scenario.drained();
    const stored = await scenario.db().query(`SELECT event_type, status, status_reason FROM inbox_events WHERE dedupe_key LIKE '991:%' OR dedupe_key LIKE '992:%' ORDER BY dedupe_key`);
    expect(stored).toEqual([
      { event_type: 'task:teleported', status: 'ignored', status_reason: 'no handler for task:teleported' },
      { event_type: 'task:completed', status: 'ignored', status_reason: 'no contract for task 992' },
    ]);
  });

  it('a signed event whose fields make a dedupe key too long for an index is stored once, and its redelivery is a duplicate', async () => {
    const sign = (body: string) => createHmac('sha256', s.credentials.dottedsignClientSecret).update(body).digest('hex');
    // Random, so PostgreSQL cannot compress the key below its index limit.
    const email = `${randomBytes(3000).toString('base64url')}@customer.test`;
    const body = JSON.stringify({ resource_type: 'SignTask', resource_id: 994, action_name: 'teleported', event_datetime: '1700000000', event_email: email, task: { task_id: 994 } });
    const answers = [];
    for (let delivery = 0; delivery < 2; delivery += 1) {
      const answer = await fetch(`${s.app.url}/webhooks/dottedsign`, { method: 'POST', headers: { 'content-type': 'application/json', signature: sign(body) }, body });
      answers.push({ status: answer.status, body: await answer.json() });
    }
    expect(answers).toEqual([
      { status: 200, body: { status: 'accepted' } },
      { status: 200, body: { status: 'duplicate' } },
    ]);
    await scenario.drained();
    const stored = await scenario.db().query(`SELECT dedupe_key, status FROM inbox_events WHERE source = 'dottedsign' AND event_type = 'task:teleported' AND payload->'body'->>'resource_id' = '994'`);
    expect(stored).toEqual([{ dedupe_key: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), status: 'ignored' }]);
  });

  it('the other readings of the webhook format (base64 signature, resource_type "task") and actions the app does not follow, as the simulator sends them: signing still wins the deal, "archived" is stored and ignored', async () => {
    expect((await s.dsim('/webhook-format', { method: 'PUT', body: { signature: 'base64', resourceType: 'task' } })).status).toBe(200);
    try {
      const { dealId, contractId, taskId } = await waitingContract('Globex base64');
      expect((await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } })).status).toBe(200);
      expect((await writtenBack(contractId)).status).toBe('completed');
      expect((await dealOf(dealId)).status).toBe('won');
      const completed = (await dottedsignDeliveries(taskId)).find((delivery) => delivery.action === 'completed')!;
      expect(JSON.parse(completed.body)).toMatchObject({ resource_type: 'task' });
      expect(completed.headers.Signature).toBe(createHmac('sha256', s.credentials.dottedsignClientSecret).update(completed.body).digest('base64'));

      expect((await s.dsim(`/tasks/${taskId}/events`, { body: { action_name: 'archived' } })).status).toBe(200);
      await eventually(async () => (await dottedsignDeliveries(taskId)).some((delivery) => delivery.action === 'archived' && delivery.outcome === 'delivered'), 'archived delivered');
      await scenario.drained();
      const archived = await scenario.db().query(`SELECT status, status_reason FROM inbox_events WHERE source = 'dottedsign' AND event_type = 'task:archived' AND dedupe_key LIKE $1`, [`${taskId}:%`]);
      expect(archived).toEqual([{ status: 'ignored', status_reason: 'no handler for task:archived' }]);
      expect((await contract(contractId)).status).toBe('completed');
      // An action that follows from the task's state is only ever raised by the state changing.
      expect((await s.dsim(`/tasks/${taskId}/events`, { body: { action_name: 'completed' } })).status).toBe(400);
    } finally {
      await s.dsim('/webhook-format', { method: 'PUT', body: { signature: 'hex', resourceType: 'SignTask' } });
    }
  });

  it('declined with a reason: the contract, its timeline and the deal note all say why', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Declined deal');
    const reason = 'Price is 20% too high';
    expect((await s.dsim(`/tasks/${taskId}/decline`, { body: { email: signer, reason } })).status).toBe(200);
    const row = await writtenBack(contractId);
    expect(row.status).toBe('declined');
    expect(row.status_reason).toBe(reason);
    expect(row.signers).toEqual([expect.objectContaining({ email: signer, status: 'declined' })]);
    const declined = (await timeline(contractId)).find((event) => event.type === 'declined')!;
    expect(declined).toMatchObject({ actor: signer, details: { reason } });
    const notes = await notesOf(dealId);
    expect(notes).toHaveLength(1);
    expect(notes[0].content).toContain(reason);
    expect((await dealOf(dealId)).status).toBe('open');
  });

  it('declined while DottedSign cannot be read for a moment: the event is retried, and the reason still reaches the contract and the note', async () => {
    const { dealId, contractId, taskId } = await waitingContract('Declined during an outage');
    const reason = 'Legal has not approved it';
    await s.dsim('/faults', { body: { method: 'GET', path: '/v1/sign_tasks/read', status: 503, count: 1, body: { error_code: 503000, error_key: 'service_unavailable', error_message: 'busy' } } });
    expect((await s.dsim(`/tasks/${taskId}/decline`, { body: { email: signer, reason } })).status).toBe(200);
    const row = await writtenBack(contractId);
    expect(row.status).toBe('declined');
    expect(row.status_reason).toBe(reason);
    const notes = await notesOf(dealId);
    expect(notes).toHaveLength(1);
    expect(notes[0].content).toContain(reason);
  });
});
