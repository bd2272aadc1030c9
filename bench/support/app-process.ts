import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

let compiledMain: string | undefined;

/**
 * The app compiled once per run (tsconfig.build.json), so an app process carries no TypeScript
 * compiler in its memory, as in production. BENCH_APP_RUNTIME=ts-node runs src/main.ts under ts-node instead.
 */
export function appEntry(): string[] {
  if (process.env.BENCH_APP_RUNTIME === 'ts-node') return ['-r', 'ts-node/register/transpile-only', 'src/main.ts'];
  if (!compiledMain) {
    // Inside the checkout (and ignored with node_modules), so the app finds its package.json and packages. One
    // directory per run: a concurrent bench rebuilding a shared one would pull files from under a restarting app.
    const outDir = join(ROOT, 'node_modules', '.cache', `bench-build-${process.pid}`);
    rmSync(outDir, { recursive: true, force: true });
    process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: ROOT, stdio: 'inherit' });
    compiledMain = join(outDir, 'src', 'main.js');
  }
  return [compiledMain];
}

/** The node flags of `npm start` (package.json), so a benchmarked app runs with production's heap limit. */
function productionNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  return start.split(/\s+/).filter((word) => word.startsWith('--'));
}

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in MB, from /proc. */
export function memoryOf(pid: number): { peakMb: number; currentMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peakMb: Math.round(kb('VmHWM') / 1024), currentMb: Math.round(kb('VmRSS') / 1024) };
}

/** CPU time (user + system) a process has used so far, in ms; /proc/<pid>/stat counts in 1/100 s ticks. */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * One app process (see appEntry) as it runs in production: its own event loop,
 * its own memory, killable. Its stderr is kept (last lines) to explain a failed start.
 */
export class AppProcess {
  private child: ChildProcess | undefined;
  private readonly stderr: string[] = [];
  exits = 0;

  constructor(
    readonly url: string,
    private readonly env: Record<string, string>,
  ) {}

  get pid(): number {
    if (!this.child?.pid) throw new Error('the app process is not running');
    return this.child.pid;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    // BENCH_APP_NODE_ARGS: extra node flags for the app, e.g. --cpu-prof to see where its time goes.
    const nodeArgs = (process.env.BENCH_APP_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...productionNodeFlags(), ...nodeArgs, ...appEntry()], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr.push(chunk.toString());
      if (this.stderr.length > 50) this.stderr.shift();
    });
    child.once('exit', () => (this.exits += 1));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      const ready = await fetch(`${this.url}/readyz`).then((r) => r.status === 200, () => false);
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    child.kill('SIGKILL');
    throw new Error(`app at ${this.url} did not become ready:\n${this.stderr.join('')}`);
  }

  kill(): void {
    this.child?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(forced);
  }

  recentStderr(): string {
    return this.stderr.join('');
  }
}
