import { contractsApiBenchmark } from './contracts-api.bench';
import { endToEndBenchmark } from './end-to-end.bench';
import { ingestBenchmark } from './ingest.bench';
import { reconcileBenchmark } from './reconcile.bench';
import { type DatabaseServer, serversFromEnv } from './support/database-servers';
import { QUICK, RUN_LIMIT_SECONDS, round } from './support/stats';

type Benchmark = (database: { url: string; drop(): Promise<void> }, server: DatabaseServer) => Promise<Record<string, unknown>>;

const BENCHMARKS: Record<string, Benchmark> = {
  ingest: ingestBenchmark,
  'end-to-end': endToEndBenchmark,
  'contracts-api': contractsApiBenchmark,
  reconcile: reconcileBenchmark,
};

/** `npm run bench [name ...]`; BENCH_QUICK=1 for short runs, BENCH_DATABASES=local|embedded to pick servers. */
async function main(): Promise<number> {
  const started = Date.now();
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(BENCHMARKS);
  const unknown = names.filter((name) => !BENCHMARKS[name]);
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  const servers = await serversFromEnv();
  const results: Array<{ benchmark: string; database: string; result: Record<string, unknown> }> = [];
  try {
    for (const name of names) {
      for (const server of servers) {
        const database = await server.createDatabase();
        process.stdout.write(`\n== ${name} on ${server.name}${QUICK ? ' (quick)' : ''}\n`);
        try {
          const result = await BENCHMARKS[name](database, server);
          results.push({ benchmark: name, database: server.name, result });
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } finally {
          await database.drop().catch(() => undefined);
        }
      }
    }
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
  const seconds = round((Date.now() - started) / 1000, 0);
  process.stdout.write(`\n== ran ${names.join(', ')} in ${seconds} s (limit ${RUN_LIMIT_SECONDS} s)\n`);
  return seconds <= RUN_LIMIT_SECONDS ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
