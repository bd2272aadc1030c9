import { setTimeout as sleep } from 'node:timers/promises';
import type { EmbeddedServer } from '../bench/support/database-servers';
import { Stack, UNTHROTTLED } from '../bench/support/stack';
import type { WebhookAttempt } from '../src/sandbox/kit/webhook-dispatcher';
import { type Invariant, check, countBy } from './invariants';

const DRILL = 'database outage';
const RATE = 20;
const OUTAGE_MS = 10_000;

interface Sent {
  dealId: number;
  action: 'create' | 'delete';
  eventId: string;
  /** Every answer of every attempt, in order, with when it was sent. */
  attempts: Array<{ at: number; status: number }>;
  accepted: boolean;
}

/**
 * Real deals are added (and, from the outage on, every other event deleted) in the Pipedrive simulator at a steady
 * rate while the embedded PostgreSQL is stopped for 10 s and started again under the running app. The drill is
 * Pipedrive's sender: it takes each webhook delivery the simulator made (its own sends are dropped) and posts it
 * itself, retrying after a non-2xx or a network error, so every attempt's answer is counted. Auto-send is on, so
 * each accepted event must be processed: a task for every deal that still exists, none live for a deleted one.
 */
export async function databaseOutageDrill(server: EmbeddedServer): Promise<Invariant[]> {
  const database = await server.createDatabase();
  const stack = await Stack.start({ databaseUrl: database.url, mode: 'processes', ...UNTHROTTLED });
  try {
    await stack.installAndConnect();
    const pid = stack.apps[0].pid;
    const { companyId, personWithEmailId } = stack.demo;
    const webhooks = stack.pipedrive.webhooks;
    webhooks.dropNext(Number.MAX_SAFE_INTEGER, { object: 'deal' });
    const deliveryOf = (dealId: number, action: Sent['action']): WebhookAttempt => {
      const found = webhooks.attempts().find((attempt) => attempt.meta?.entityId === dealId && attempt.meta?.action === action);
      if (!found) throw new Error(`the simulator made no ${action} delivery for deal ${dealId}`);
      return found;
    };
    const sent: Sent[] = [];
    const deliver = async (item: Sent, delivery: WebhookAttempt) => {
      for (let attempt = 0; attempt < 20 && !item.accepted; attempt += 1) {
        const at = Date.now();
        const status = await fetch(delivery.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: delivery.headers.authorization }, body: delivery.body }).then(
          (response) => response.status,
          () => 0,
        );
        item.attempts.push({ at, status });
        if (status >= 200 && status < 300) item.accepted = true;
        else await sleep(1_000 * Math.min(attempt + 1, 3));
      }
    };
    const deliveries: Array<Promise<void>> = [];
    const started = Date.now();
    const window = { stop: 0, started: 0 };
    const outage = (async () => {
      await sleep(5_000);
      window.stop = Date.now();
      await server.stop();
      await sleep(OUTAGE_MS);
      await server.start();
      window.started = Date.now();
    })();
    const undeleted: number[] = [];
    let index = 0;
    while (Date.now() - started < 25_000) {
      // From the outage on, every other event deletes the oldest deal left: one whose contract went out before the
      // outage, or one whose create is itself still waiting to be accepted. Its webhook's credentials were never used
      // before, so the app cannot have them in memory and must look them up (and answer 5xx, not 401, when it cannot).
      const action = window.stop && index % 2 === 1 && undeleted.length ? 'delete' : 'create';
      let dealId: number;
      if (action === 'create') {
        const response = await stack.sim(`/companies/${companyId}/deals`, { title: `Outage ${index}`, person_id: personWithEmailId });
        dealId = ((await response.json()) as { id: number }).id;
        undeleted.push(dealId);
      } else {
        dealId = undeleted.shift()!;
        await stack.sim(`/companies/${companyId}/deals/${dealId}`, undefined, 'DELETE');
      }
      const delivery = deliveryOf(dealId, action);
      const item: Sent = { dealId, action, eventId: (JSON.parse(delivery.body) as { meta: { id: string } }).meta.id, attempts: [], accepted: false };
      sent.push(item);
      deliveries.push(deliver(item, delivery));
      index += 1;
      await sleep(1000 / RATE);
    }
    await outage;
    await Promise.all(deliveries);
    await stack.reconnectDb();

    // Attempts that started well inside the outage (1 s after the stop, before the restart).
    const inOutage = (attempt: { at: number }) => attempt.at > window.stop + 1_000 && attempt.at < window.started - 500;
    const during = sent.flatMap((item) => item.attempts).filter(inOutage);
    const duringDeletes = sent.filter((item) => item.action === 'delete').flatMap((item) => item.attempts).filter(inOutage).length;
    const duringOk = during.filter((attempt) => attempt.status >= 200 && attempt.status < 300).length;
    const during5xx = during.filter((attempt) => attempt.status >= 500).length;
    const accepted = sent.filter((item) => item.accepted).map((item) => item.eventId);
    const recoveredInMs = sent
      .flatMap((item) => item.attempts)
      .filter((attempt) => attempt.at >= window.started && attempt.status === 200)
      .map((attempt) => attempt.at - window.started)
      .sort((a, b) => a - b)[0];
    let drained = false;
    const deadline = Date.now() + 60_000;
    while (!drained && Date.now() < deadline) {
      drained = (await stack.count(`SELECT count(*) FROM inbox_events WHERE status = 'pending'`)) === 0;
      if (!drained) await sleep(500);
    }
    const ready = (await fetch(`${stack.url}/readyz`).then((r) => r.status, () => 0)) === 200;

    const events = await stack.query<{ dedupe_key: string; status: string }>(
      `SELECT dedupe_key, status FROM inbox_events WHERE source = 'pipedrive' AND dedupe_key = ANY($1)`,
      [accepted],
    );
    const lost = accepted.length - events.length;
    const statuses = countBy(events, (event) => event.status);
    const unfinished = events.filter((event) => event.status === 'pending' || event.status === 'failed').length;
    const retried = await stack.count(`SELECT count(*) FROM pgboss.job WHERE name = 'inbox.process' AND retry_count > 0`);

    const deleted = new Set(sent.filter((item) => item.action === 'delete').map((item) => item.dealId));
    const existing = sent.filter((item) => item.action === 'create' && !deleted.has(item.dealId)).map((item) => item.dealId);
    const tasksOf = new Map<number, Array<{ id: string; status: string }>>();
    for (const task of stack.dottedsign.state.tasks.values()) {
      if (task.discarded) continue;
      const dealId = Number(task.metadata.pipedrive_deal_id);
      tasksOf.set(dealId, [...(tasksOf.get(dealId) ?? []), { id: String(task.id), status: task.status }]);
    }
    const contracts = await stack.query<{ deal_id: string; task_id: string | null }>(`SELECT deal_id, task_id FROM contracts WHERE company_id = $1`, [companyId]);
    const recordedTask = new Map(contracts.map((contract) => [Number(contract.deal_id), contract.task_id]));
    const notOne = existing.filter((dealId) => tasksOf.get(dealId)?.length !== 1 || recordedTask.get(dealId) !== tasksOf.get(dealId)![0].id);
    const live = [...deleted].filter((dealId) => (tasksOf.get(dealId) ?? []).some((task) => task.status === 'draft' || task.status === 'waiting'));
    const deletedTasks = countBy([...deleted].flatMap((dealId) => tasksOf.get(dealId) ?? []), (task) => task.status);
    const describe = (dealId: number) =>
      `deal ${dealId}: tasks ${(tasksOf.get(dealId) ?? []).map((task) => `${task.id} ${task.status}`).join(', ') || 'none'}, contract's task ${recordedTask.get(dealId) ?? 'none'}`;
    return [
      check(DRILL, 'webhooks during the outage get 5xx', during.length > 0 && during5xx === during.length, `${during.length} attempts inside the ${OUTAGE_MS / 1000} s outage (${duringDeletes} of them deletes with credentials not used before): ${during5xx} answered 5xx, ${duringOk} 2xx, ${during.length - during5xx - duringOk} other`),
      check(DRILL, 'every event accepted in the end', accepted.length === sent.length, `${accepted.length}/${sent.length} accepted after retries`),
      check(
        DRILL,
        'every accepted event stored and processed',
        lost === 0 && unfinished === 0,
        `${events.length} of ${accepted.length} accepted events are in the inbox: ${statuses || 'none'}; ${retried} inbox jobs (of any event) ran again after a failed try`,
      ),
      check(
        DRILL,
        'exactly one task per deal that still exists, recorded',
        existing.length > 0 && notOne.length === 0,
        `${existing.length} deals left, ${existing.length - notOne.length} with exactly one task at DottedSign that their contract records${notOne.length ? `; e.g. ${describe(notOne[0])}` : ''}`,
      ),
      check(
        DRILL,
        'no live task for a deleted deal',
        deleted.size > 0 && live.length === 0,
        `${deleted.size} deals deleted, their tasks: ${deletedTasks || 'none'}${live.length ? `; live: ${describe(live[0])}` : ''}`,
      ),
      check(DRILL, 'recovers without a restart', ready && stack.apps[0].exits === 0 && stack.apps[0].pid === pid, `same pid ${pid}; first 2xx ${recoveredInMs ?? 'never'} ms after PostgreSQL was back; /readyz ${ready ? 200 : 'not 200'}`),
      check(DRILL, 'queue drains after the outage', drained, drained ? 'no pending inbox events' : 'pending inbox events left after 60 s'),
    ];
  } finally {
    await stack.close();
    await database.drop().catch(() => undefined);
  }
}
