import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMsOf, memoryOf } from './support/app-process';
import { PressureSampler } from './support/pressure';
import type { FreshDatabase } from './support/database-servers';
import { percentile, round, scaled } from './support/stats';
import { Stack, UNTHROTTLED } from './support/stack';

const SIGNER = 'pia@customer.test';
const POLL_MS = 20;
const DRAIN_MS = 60_000;

/** How long inbox jobs created since `since` waited in the queue and ran, by event type: where a deal's latency goes. */
async function inboxJobTimes(stack: Stack, since: number): Promise<Record<string, { jobs: number; waitMs: string; runMs: string }>> {
  const { rows } = await stack.db.query(
    `WITH times AS (
       SELECT i.event_type, extract(epoch FROM j.started_on - j.created_on) * 1000 AS wait, extract(epoch FROM j.completed_on - j.started_on) * 1000 AS run
       FROM pgboss.job j JOIN inbox_events i ON i.id = (j.data->>'inboxId')::bigint
       WHERE j.name = 'inbox.process' AND j.completed_on IS NOT NULL AND j.created_on >= to_timestamp($1 / 1000.0))
     SELECT event_type, count(*)::int AS jobs,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY wait)::int AS wait50, percentile_disc(0.99) WITHIN GROUP (ORDER BY wait)::int AS wait99,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY run)::int AS run50, percentile_disc(0.99) WITHIN GROUP (ORDER BY run)::int AS run99
     FROM times GROUP BY event_type ORDER BY event_type`,
    [since],
  );
  return Object.fromEntries(
    (rows as Array<{ event_type: string; jobs: number; wait50: number; wait99: number; run50: number; run99: number }>).map((row) => [
      row.event_type,
      { jobs: row.jobs, waitMs: `p50 ${row.wait50}, p99 ${row.wait99}`, runMs: `p50 ${row.run50}, p99 ${row.run99}` },
    ]),
  );
}

interface Tracked {
  dealId: number;
  warmUp: boolean;
  createdAt: number;
  taskId?: string;
  taskAt?: number;
  signedAt?: number;
  doneAt?: number;
}

function latencies(samples: number[]) {
  return { count: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: percentile(samples, 100) };
}

/** The machine's stalls over the measured minute, and in the seconds the slowest deal went from added to task. */
function machineStalls(pressure: PressureSampler, deals: Tracked[], measuredFrom: number) {
  const summary = pressure.summary();
  const slowest = deals.filter((deal) => deal.taskAt).sort((a, b) => b.taskAt! - b.createdAt - (a.taskAt! - a.createdAt))[0];
  if (summary === 'not available' || !slowest) return { summary };
  const seconds = [Math.floor((slowest.createdAt - measuredFrom) / 1000), Math.floor((slowest.taskAt! - measuredFrom) / 1000)];
  const during = { ioFullMs: 0, cpuSomeMs: 0 };
  for (let second = seconds[0]; second <= seconds[1]; second += 1) {
    during.ioFullMs += pressure.at(second).ioFullMs;
    during.cpuSomeMs += pressure.at(second).cpuSomeMs;
  }
  return {
    ...summary,
    slowestDealToTask: { ms: slowest.taskAt! - slowest.createdAt, seconds, ioFullMs: round(during.ioFullMs), cpuSomeMs: round(during.cpuSomeMs) },
  };
}

/**
 * Deals added in the Pipedrive simulator at a steady rate; each one's task is signed at the DottedSign
 * simulator as soon as the app has recorded it. Latencies are from the simulator call to the row the app
 * commits (polled every POLL_MS, so they include up to that much waiting). The app runs as its own process so
 * its peak RSS (VmHWM) is its own.
 *
 * The first deals, at the same rate, warm the app up (a new process runs its code unoptimised and its pool's
 * connections are new): they go the whole way like the others, but their latencies are reported apart, and the
 * measured deals start, with the CPU counters, once every warm-up deal is won (at most DRAIN_MS later), so a
 * backlog the cold process built is not carried into the steady rate's figures.
 */
export async function endToEndBenchmark(database: FreshDatabase): Promise<Record<string, unknown>> {
  // The simulators record no requests or webhook attempts: nothing here reads them back, and the record costs this
  // process, which both simulators share, CPU beside the vendors' work (a copy of every request's headers and query).
  const stack = await Stack.start({
    databaseUrl: database.url,
    mode: 'processes',
    pipedrive: { ...UNTHROTTLED.pipedrive, logLimit: 0 },
    dottedsign: { ...UNTHROTTLED.dottedsign, logLimit: 0 },
  });
  try {
    await stack.installAndConnect();
    const rate = Number(process.env.BENCH_E2E_RATE ?? 50);
    const seconds = scaled(60, 10);
    const warmUpSeconds = scaled(10, 5);
    const warmUpDeals = rate * warmUpSeconds;
    const total = warmUpDeals + rate * seconds;
    const tracked = new Map<number, Tracked>();
    // The deals the poller still looks for, so a poll's cost does not grow with the deals already done.
    const awaitingTask = new Set<number>();
    const awaitingDone = new Set<number>();
    let warmUpDealsDone = 0;
    const rssBefore = memoryOf(stack.apps[0].pid);
    let peakRss = rssBefore.currentMb;
    let lateStarts = 0;
    let measured: { started: number; appCpuMs: number; benchCpu: NodeJS.CpuUsage; databaseCpuMs: Map<number, number> } | undefined;
    let warmUpDrainMs = 0;
    const warmUpDone = () => warmUpDealsDone === warmUpDeals;

    // Both simulators answer from this process's event loop: while it lags, so does every vendor answer.
    const benchLoopDelay = monitorEventLoopDelay({ resolution: 10 });
    benchLoopDelay.enable();
    const pressure = new PressureSampler();
    const started = Date.now();
    const adding = (async () => {
      let phaseStarted = started;
      for (let index = 0; index < total; index += 1) {
        if (index === warmUpDeals) {
          const drainStarted = Date.now();
          while (!warmUpDone() && Date.now() - drainStarted < DRAIN_MS) await sleep(POLL_MS);
          warmUpDrainMs = Date.now() - drainStarted;
          phaseStarted = Date.now();
          measured = { started: phaseStarted, appCpuMs: cpuMsOf(stack.apps[0].pid), benchCpu: process.cpuUsage(), databaseCpuMs: await stack.databaseCpuMs() };
          benchLoopDelay.reset();
          pressure.start(phaseStarted);
        }
        const due = phaseStarted + (((index < warmUpDeals ? index : index - warmUpDeals) * 1000) / rate);
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        else if (wait < -100) lateStarts += 1;
        const createdAt = Date.now();
        const warmUp = index < warmUpDeals;
        void stack
          .sim(`/companies/${stack.demo.companyId}/deals`, { title: `E2E ${index}`, person_id: stack.demo.personWithEmailId })
          .then(async (response) => {
            const deal = (await response.json()) as { id: number };
            tracked.set(deal.id, { dealId: deal.id, warmUp, createdAt });
            awaitingTask.add(deal.id);
          });
      }
    })();

    const deadline = started + (warmUpSeconds + seconds) * 1000 + DRAIN_MS + 60_000;
    const signing: Array<Promise<unknown>> = [];
    while (Date.now() < deadline) {
      peakRss = Math.max(peakRss, memoryOf(stack.apps[0].pid).currentMb);
      if (awaitingTask.size || awaitingDone.size) {
        // One statement a poll, through the (company_id, deal_id) index: the poll's own cost stays small beside a deal's.
        const { rows } = await stack.db.query(
          `SELECT deal_id, task_id, effects ? 'writeBackDone' AS done FROM contracts WHERE company_id = $1 AND deal_id = ANY($2) AND task_id IS NOT NULL`,
          [stack.demo.companyId, [...awaitingTask, ...awaitingDone]],
        );
        const now = Date.now();
        for (const row of rows as Array<{ deal_id: string; task_id: string; done: boolean }>) {
          const deal = tracked.get(Number(row.deal_id))!;
          if (awaitingTask.delete(deal.dealId)) {
            Object.assign(deal, { taskAt: now, taskId: row.task_id });
            awaitingDone.add(deal.dealId);
            // From the moment the sign call is made: the simulator sends the completed webhook before its answer.
            deal.signedAt = Date.now();
            signing.push(stack.dsim(`/tasks/${row.task_id}/sign`, { email: SIGNER }));
          } else if (row.done && awaitingDone.delete(deal.dealId)) {
            deal.doneAt = now;
            if (deal.warmUp) warmUpDealsDone += 1;
          }
        }
      }
      if (tracked.size === total && !awaitingTask.size && !awaitingDone.size) break;
      await sleep(POLL_MS);
    }
    await adding;
    await Promise.allSettled(signing);
    benchLoopDelay.disable();
    pressure.stop();
    const start = measured!;
    const appCpuMs = cpuMsOf(stack.apps[0].pid) - start.appCpuMs;
    const benchCpu = process.cpuUsage(start.benchCpu);
    const databaseCpuMs = await stack.databaseCpuMsSince(start.databaseCpuMs);
    const toTask = (deals: Tracked[]) => deals.filter((deal) => deal.taskAt).map((deal) => deal.taskAt! - deal.createdAt);
    const toDone = (deals: Tracked[]) => deals.filter((deal) => deal.doneAt).map((deal) => deal.doneAt! - deal.signedAt!);
    const deals = [...tracked.values()].filter((deal) => !deal.warmUp);
    const warmUp = [...tracked.values()].filter((deal) => deal.warmUp);
    const won = new Set(stack.pipedrive.deals(stack.demo.companyId).filter((deal) => deal.status === 'won').map((deal) => deal.id));
    const wonDeals = won.size;
    const pipedriveFiles = stack.pipedrive.files(stack.demo.companyId);
    const files = pipedriveFiles.length;
    // A write-back counted as done must show in Pipedrive: the deal won with the signed PDF and the audit trail.
    const filesOf = new Map<number, number>();
    for (const file of pipedriveFiles) filesOf.set(file.dealId, (filesOf.get(file.dealId) ?? 0) + 1);
    const notShown = [...tracked.values()].filter((deal) => deal.doneAt && !(won.has(deal.dealId) && filesOf.get(deal.dealId) === 2));
    if (notShown.length) throw new Error(`${notShown.length} deals counted as written back are not won with both files in Pipedrive (deal ${notShown[0].dealId}, …)`);
    const measuredDeals = total - warmUpDeals;
    return {
      ratePerSecond: rate,
      seconds,
      dealsAdded: tracked.size,
      lateStarts,
      dealToTask: latencies(toTask(deals)),
      completedToWonAndFiles: latencies(toDone(deals)),
      warmUp: {
        seconds: warmUpSeconds,
        deals: warmUp.length,
        dealToTask: latencies(toTask(warmUp)),
        completedToWonAndFiles: latencies(toDone(warmUp)),
        drainedMsAfterLast: warmUpDrainMs,
      },
      dealsWon: wonDeals,
      filesAttached: files,
      // CPU per measured deal, the app's own, the bench process's (both simulators, the poller) and the database
      // backends', from the end of the warm-up: only meaningful when every deal went all the way to won within the
      // run, otherwise unfinished deals' work is counted too. The warm-up deals' last steps fall in it (a few).
      cpuMsPerDeal:
        wonDeals === total
          ? {
              app: round(appCpuMs / measuredDeals),
              simulatorsAndPoller: round((benchCpu.user + benchCpu.system) / 1000 / measuredDeals),
              database: round(databaseCpuMs / measuredDeals),
            }
          : `not measured: ${total - wonDeals} of ${total} deals unfinished`,
      inboxJobs: await inboxJobTimes(stack, start.started),
      // From the end of the warm-up: how late this process's timers ran, which the simulators' answers wait too.
      simulatorsEventLoopDelayMs: {
        p50: round(benchLoopDelay.percentile(50) / 1e6),
        p99: round(benchLoopDelay.percentile(99) / 1e6),
        max: round(benchLoopDelay.max / 1e6),
      },
      machineStalls: machineStalls(pressure, deals, start.started),
      appRssMb: { before: rssBefore.currentMb, peakSampled: peakRss, peakVmHWM: memoryOf(stack.apps[0].pid).peakMb },
      pollIntervalMs: POLL_MS,
      wallSeconds: round((Date.now() - started) / 1000),
    };
  } finally {
    await stack.close();
  }
}
