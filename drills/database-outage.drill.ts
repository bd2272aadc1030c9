import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmbeddedServer } from '../bench/support/database-servers';
import { Stack, UNTHROTTLED } from '../bench/support/stack';
import { type Invariant, check } from './invariants';

const DRILL = 'database outage';
const RATE = 20;
const OUTAGE_MS = 10_000;

interface Sent {
  eventId: string;
  action: 'create' | 'delete';
  /** Every answer of every attempt, in order, with when it was sent. */
  attempts: Array<{ at: number; status: number }>;
  accepted: boolean;
}

/**
 * A sender that behaves as Pipedrive does: distinct deal events at a steady rate, each retried after a non-2xx
 * or a network error, while the embedded PostgreSQL is stopped for 10 s and started again under the running app.
 */
export async function databaseOutageDrill(server: EmbeddedServer): Promise<Invariant[]> {
  const database = await server.createDatabase();
  const stack = await Stack.start({ databaseUrl: database.url, mode: 'processes', ...UNTHROTTLED });
  try {
    await stack.installAndConnect({ autoSend: { enabled: false, pipelineIds: [] } });
    const pid = stack.apps[0].pid;
    const credentials = { create: stack.webhookAuthorization('create'), delete: stack.webhookAuthorization('delete') };
    const sent: Sent[] = [];
    const deliver = async (item: Sent, body: string, authorization: string) => {
      for (let attempt = 0; attempt < 20 && !item.accepted; attempt += 1) {
        const at = Date.now();
        const status = await fetch(`${stack.url}/webhooks/pipedrive`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body }).then(
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
    let index = 0;
    while (Date.now() - started < 25_000) {
      const eventId = randomUUID();
      // Once the database is down, every other event is a delete: its webhook's credentials were never used before,
      // so the app cannot have them in memory and must look them up (and answer 5xx, not 401, when it cannot).
      const action = window.stop && index % 2 === 1 ? 'delete' : 'create';
      const item: Sent = { eventId, action, attempts: [], accepted: false };
      sent.push(item);
      const body = JSON.stringify({
        meta: { id: eventId, action, entity: 'deal', entity_id: String(500_000 + index), company_id: String(stack.demo.companyId) },
        ...(action === 'create'
          ? { data: { id: 500_000 + index, title: `Outage ${index}` }, previous: null }
          : { data: null, previous: { id: 500_000 + index, title: `Outage ${index}` } }),
      });
      deliveries.push(deliver(item, body, credentials[action]));
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
    const { rows } = await stack.db.query(`SELECT dedupe_key FROM inbox_events WHERE source = 'pipedrive' AND dedupe_key = ANY($1)`, [accepted]);
    const stored = new Set((rows as Array<{ dedupe_key: string }>).map((row) => row.dedupe_key));
    const lost = accepted.filter((eventId) => !stored.has(eventId));
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
    return [
      check(DRILL, 'webhooks during the outage get 5xx', during.length > 0 && during5xx === during.length, `${during.length} attempts inside the ${OUTAGE_MS / 1000} s outage (${duringDeletes} of them deletes with credentials not used before): ${during5xx} answered 5xx, ${duringOk} 2xx, ${during.length - during5xx - duringOk} other`),
      check(DRILL, 'every event accepted in the end', accepted.length === sent.length, `${accepted.length}/${sent.length} accepted after retries`),
      check(DRILL, 'nothing accepted is lost', lost.length === 0, `${stored.size} of ${accepted.length} accepted events are in the inbox${lost.length ? `; missing e.g. ${lost[0]}` : ''}`),
      check(DRILL, 'recovers without a restart', ready && stack.apps[0].exits === 0 && stack.apps[0].pid === pid, `same pid ${pid}; first 2xx ${recoveredInMs ?? 'never'} ms after PostgreSQL was back; /readyz ${ready ? 200 : 'not 200'}`),
      check(DRILL, 'queue drains after the outage', drained, drained ? 'no pending inbox events' : 'pending inbox events left after 60 s'),
    ];
  } finally {
    await stack.close();
    await database.drop().catch(() => undefined);
  }
}
