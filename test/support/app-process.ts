import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { scratchDir } from './scratch-dir';

export const ROOT = resolve(__dirname, '../..');

export interface AppProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Ctrl-C in a terminal: SIGINT to the whole process group. */
  interrupt(): void;
}

/** Runs src/main.ts as `npm start` would (minus the build), in its own process group like a terminal job. */
export function startAppProcess(env: Record<string, string>): AppProcess {
  let output = '';
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src/main.ts')], {
    cwd: scratchDir('cwd'),
    env: { PATH: process.env.PATH ?? '', TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), LOG_LEVEL: 'info', NODE_PATH: join(ROOT, 'node_modules'), ...env },
    detached: true,
  });
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  child.stderr!.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, output: () => output, exited, interrupt: () => process.kill(-child.pid!, 'SIGINT') };
}

export function postgresRunningIn(dataDir: string): boolean {
  const list = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return list.split('\n').some((line) => line.includes('postgres') && line.includes(join(dataDir, 'postgres')));
}
