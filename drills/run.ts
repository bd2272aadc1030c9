import { embeddedServer, localServer } from '../bench/support/database-servers';
import { chaosDrill } from './chaos.drill';
import { databaseOutageDrill } from './database-outage.drill';
import { hostileInputDrill } from './hostile-input.drill';
import { RUN_LIMIT_SECONDS, round } from '../bench/support/stats';
import { type Invariant, check, printTable } from './invariants';

/**
 * `npm run drill [hostile-input|database-outage|chaos ...]`. DRILL_HOSTILE_REQUESTS sets the hostile request count
 * (default 10,000); DRILL_CHAOS_DEALS (default 10,000), DRILL_CHAOS_RATE (deals/s, default 40) and
 * DRILL_CHAOS_DRAIN_SECONDS (default 330) size the chaos drill. Exits non-zero when an invariant fails.
 */
async function main(): Promise<number> {
  const started = Date.now();
  const all = ['hostile-input', 'database-outage', 'chaos'];
  const names = process.argv.slice(2).length ? process.argv.slice(2) : all;
  const unknown = names.filter((name) => !all.includes(name));
  if (unknown.length) throw new Error(`unknown drill(s) ${unknown.join(', ')}; known: ${all.join(', ')}`);
  const invariants: Invariant[] = [];
  if (names.includes('hostile-input')) {
    const database = await localServer().createDatabase();
    try {
      invariants.push(...(await hostileInputDrill(database.url, Number(process.env.DRILL_HOSTILE_REQUESTS ?? 10_000))));
    } finally {
      await database.drop().catch(() => undefined);
    }
  }
  if (names.includes('database-outage')) {
    const server = await embeddedServer();
    try {
      invariants.push(...(await databaseOutageDrill(server)));
    } finally {
      await server.close();
    }
  }
  if (names.includes('chaos')) {
    const database = await localServer().createDatabase();
    try {
      invariants.push(
        ...(await chaosDrill(database, {
          deals: Number(process.env.DRILL_CHAOS_DEALS ?? 10_000),
          ratePerSecond: Number(process.env.DRILL_CHAOS_RATE ?? 40),
          drainSeconds: Number(process.env.DRILL_CHAOS_DRAIN_SECONDS ?? 330),
        })),
      );
    } finally {
      await database.drop().catch(() => undefined);
    }
  }
  const seconds = round((Date.now() - started) / 1000, 0);
  invariants.push(check('all', `ran to the end within ${RUN_LIMIT_SECONDS} s`, seconds <= RUN_LIMIT_SECONDS, `${names.join(', ')} in ${seconds} s`));
  printTable(invariants);
  return invariants.every((invariant) => invariant.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
