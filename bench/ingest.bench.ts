import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { cpuMsOf } from './support/app-process';
import type { FreshDatabase } from './support/database-servers';
import { round, scaled } from './support/stats';
import { Stack, UNTHROTTLED } from './support/stack';

/** Each load runs at these fixed concurrencies in turn (BENCH_INGEST_CONNECTIONS, comma-separated): latency against throughput. */
const CONNECTIONS = (process.env.BENCH_INGEST_CONNECTIONS ?? '16,32').split(',').map(Number);

export interface LoadFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  total: number;
  non2xx: number;
  errors: number;
}

/** `requestsPerSecond` counts only 2xx answers: a fast refusal (a 401, a 503) is not ingest. */
function figures(result: autocannon.Result): LoadFigures {
  return {
    requestsPerSecond: round(result['2xx'] / result.duration, 0),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** The load, and the app's CPU per answered request in µs: a figure that varies less with the machine's day than rates. */
async function measured(appPid: number, options: autocannon.Options): Promise<LoadFigures & { appCpuUsPerRequest: number }> {
  const cpuBefore = cpuMsOf(appPid);
  const result = figures(await run(options));
  return { ...result, appCpuUsPerRequest: Math.round(((cpuMsOf(appPid) - cpuBefore) * 1000) / result.total) };
}

function run(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/** A load some of whose answers failed, or whose accepted events are not all stored with a job, measures nothing. */
function refuseInvalid(run: { connections: number; ingest: LoadFigures; bare: LoadFigures; inboxRows: number; inboxJobs: number; accepted2xx: number }): void {
  const problems = [
    run.ingest.non2xx + run.ingest.errors > 0 && `ingest: ${run.ingest.non2xx} non-2xx answers, ${run.ingest.errors} errors or timeouts`,
    run.bare.non2xx + run.bare.errors > 0 && `bare route: ${run.bare.non2xx} non-2xx answers, ${run.bare.errors} errors or timeouts`,
    run.inboxRows < run.accepted2xx && `${run.accepted2xx - run.inboxRows} accepted events not stored`,
    run.inboxJobs !== run.inboxRows && `${run.inboxRows} events stored but ${run.inboxJobs} jobs enqueued`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`ingest at ${run.connections} connections is not a valid measurement: ${problems.join('; ')}`);
}

function dealCreated(companyId: number, userId: number, dealId: number): string {
  return JSON.stringify({
    meta: {
      id: randomUUID(),
      action: 'create',
      entity: 'deal',
      entity_id: String(dealId),
      company_id: String(companyId),
      user_id: String(userId),
      timestamp: new Date().toISOString(),
      version: '2.0',
      type: 'application',
      change_source: 'app',
      attempt: 1,
    },
    data: { id: dealId, title: `Bench deal ${dealId}`, pipeline_id: 1, stage_id: 1, status: 'open', value: 1000, currency: 'EUR' },
    previous: null,
  });
}

/**
 * Authenticated, distinct v2 deal events at fixed concurrencies against POST /webhooks/pipedrive, and the same
 * concurrency for 5 s on GET /healthz (a route doing no work) of the same app process. Auto-send is off, so the
 * jobs the events enqueue are cheap to process while the load runs: the figure is the ingest path's.
 */
export async function ingestBenchmark(database: FreshDatabase): Promise<Record<string, unknown>> {
  const stack = await Stack.start({ databaseUrl: database.url, mode: 'processes', ...UNTHROTTLED });
  try {
    await stack.installAndConnect({ autoSend: { enabled: false, pipelineIds: [] } });
    const authorization = stack.webhookAuthorization('create');
    const duration = scaled(15, 4);
    // The bare route only sets the scale (the machine's speed that day): a shorter load measures it as well.
    const bareDuration = Math.min(duration, 5);
    const appPid = stack.apps[0].pid;
    let dealId = 1_000_000;
    const { companyId, adminUserId } = stack.demo;
    const bareLoad = (connections: number, seconds: number): autocannon.Options => ({ url: `${stack.url}/healthz`, connections, duration: seconds, timeout: 10 });
    const ingestLoad = (connections: number, seconds: number): autocannon.Options => ({
      url: `${stack.url}/webhooks/pipedrive`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      connections,
      duration: seconds,
      timeout: 10,
      requests: [{ setupRequest: (request) => ({ ...request, body: dealCreated(companyId, adminUserId, dealId++) }) }],
    });
    const pipedriveEvents = () => stack.count(`SELECT count(*) FROM inbox_events WHERE source = 'pipedrive'`);
    const inboxJobs = () => stack.count(`SELECT count(*) FROM pgboss.job WHERE name = 'inbox.process'`);
    /** Waits (at most 60 s) until every accepted event is processed; returns the seconds it took. */
    const processed = async () => {
      const started = Date.now();
      while (Date.now() - started < 60_000 && (await stack.count(`SELECT count(*) FROM inbox_events WHERE status = 'pending'`)) > 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return round((Date.now() - started) / 1000, 1);
    };

    // Warm-up of both routes (JIT, pool connections, prepared statements, the verified-credential cache), then
    // its events processed, so every measured load starts from a warm, idle app.
    await run(bareLoad(CONNECTIONS[0], 2));
    await run(ingestLoad(CONNECTIONS[0], 2));
    await processed();

    const runs = [];
    for (const connections of CONNECTIONS) {
      const bare = await measured(appPid, bareLoad(connections, bareDuration));
      const eventsBefore = await pipedriveEvents();
      const jobsBefore = await inboxJobs();
      const cpuBeforeIngest = cpuMsOf(appPid);
      const databaseCpuBefore = await stack.databaseCpuMs();
      const loadGeneratorCpuBefore = process.cpuUsage();
      const ingest = await measured(appPid, ingestLoad(connections, duration));
      const loadGeneratorCpu = process.cpuUsage(loadGeneratorCpuBefore);
      // The jobs the events enqueued run during the load and after it: the CPU per event (the app's, the database
      // backends') counted until the last is done. The load generator is autocannon in this process.
      const processedAfterLoadSeconds = await processed();
      const stored = (await pipedriveEvents()) - eventsBefore;
      runs.push({
        connections,
        ingest,
        bare,
        ratio: round(ingest.requestsPerSecond / bare.requestsPerSecond, 2),
        inboxRows: stored,
        processedAfterLoadSeconds,
        appCpuUsPerEventProcessed: Math.round(((cpuMsOf(appPid) - cpuBeforeIngest) * 1000) / stored),
        databaseCpuUsPerEventProcessed: Math.round(((await stack.databaseCpuMsSince(databaseCpuBefore)) * 1000) / stored),
        loadGeneratorCpuUsPerRequest: Math.round((loadGeneratorCpu.user + loadGeneratorCpu.system) / ingest.total),
        inboxJobs: (await inboxJobs()) - jobsBefore,
        accepted2xx: ingest.total - ingest.non2xx,
      });
      refuseInvalid(runs[runs.length - 1]);
    }
    return { durationSeconds: duration, bareDurationSeconds: bareDuration, runs };
  } finally {
    await stack.close();
  }
}
