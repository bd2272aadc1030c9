import { Reconciler } from '../../src/signing/reconciler.service';
import { type Sandbox, startSandbox } from '../support/sandbox';
import { Scenario } from '../support/scenario';
import { eventually } from '../support/test-app';

/**
 * The reference lists `is_deleted` among a v2 deal's fields, so Pipedrive may answer a deleted deal's read with 200
 * and `is_deleted: true` instead of 404. The same paths as elsewhere, with the simulator answering that way.
 */
describe('a deleted deal read back as is_deleted: true instead of 404 (app + both simulators)', () => {
  let s: Sandbox;
  let scenario: Scenario;
  const signer = 'pia@customer.test';

  beforeAll(async () => {
    s = await startSandbox({ pipedrive: { deletedDeals: 'flagged' } });
    scenario = new Scenario(s);
    await scenario.installAndConnect();
    await s.install(scenario.demo.regularUserId);
  });
  afterAll(() => s?.close());

  const contract = async (dealId: number) => (await scenario.contracts(dealId))[0];
  const dealRead = async (dealId: number) => s.api(scenario.demo.companyId, scenario.demo.adminUserId, `/api/deals/${dealId}/contracts`);

  it('a deal deleted while its delete webhook was lost: reconciliation voids its task', async () => {
    const deal = await scenario.addDeal({ title: 'Deleted quietly, flagged', person_id: scenario.demo.personWithEmailId });
    const sent = await scenario.contractSettled(deal.id);
    expect(sent.status).toBe('waiting');
    await s.sim('/webhooks/drop', { body: { count: 1 } });
    await scenario.deleteDeal(deal.id);
    await s.sim('/requests', { method: 'DELETE' });

    const report = await s.app.app.get(Reconciler).runCycle();
    expect(report.dealsGone).toBeGreaterThanOrEqual(1);
    // Pipedrive said so with a 200 and is_deleted: true, not with a 404.
    const reads = (await (await s.sim('/requests?method=GET')).json()) as Array<{ path: string; status: number }>;
    expect(reads.filter((read) => read.path.endsWith(`/api/v2/deals/${deal.id}`)).map((read) => read.status)).toContain(200);
    expect((await contract(deal.id)).status).toBe('voided');
    expect((await scenario.tasksForDeal(deal.id))[0].status).toBe('voided');
  });

  it('a create processed after its deal was deleted sends nothing', async () => {
    await s.sim('/webhooks/hold', { body: {} });
    const deal = await scenario.addDeal({ title: 'Gone before its create', person_id: scenario.demo.personWithEmailId });
    await scenario.deleteDeal(deal.id);
    await s.sim('/webhooks/release', { body: { order: 'fifo' } });
    const discarded = await scenario.contractSettled(deal.id, (status) => status === 'discarded');
    expect(discarded.task_id).toBeNull();
    await scenario.drained();
    expect(await scenario.tasksForDeal(deal.id)).toEqual([]);
  });

  it('a contract signed after its deal was deleted is not written back, and the panel shows it to admins only', async () => {
    const signed = await scenario.addDeal({ title: 'Signed, then deleted', person_id: scenario.demo.personWithEmailId });
    const { task_id: taskId } = await scenario.contractSettled(signed.id);
    await s.sim('/webhooks/drop', { body: { count: 1 } });
    await scenario.deleteDeal(signed.id);
    await s.dsim(`/tasks/${taskId}/sign`, { body: { email: signer } });
    const done = await eventually(async () => {
      const row = await contract(signed.id);
      return row.effects?.writeBackDone ? row : undefined;
    }, 'the write-back to settle');
    expect(done.status).toBe('completed');
    expect(done.effects.dealUpdateSkipped).toBe('the deal no longer exists');
    const files = (await (await s.sim(`/companies/${scenario.demo.companyId}/files`)).json()) as Array<{ deal_id: number }>;
    expect(files.filter((file) => file.deal_id === signed.id)).toEqual([]);

    // The panel shows a deleted deal's contracts to admins only, as with a 404.
    expect((await dealRead(signed.id)).status).toBe(200);
    const regular = await s.api(scenario.demo.companyId, scenario.demo.regularUserId, `/api/deals/${signed.id}/contracts`);
    expect(regular.status).toBe(404);
  });
});
