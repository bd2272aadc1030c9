import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const CLIENT = join(ROOT, 'client');
const DIST = join(CLIENT, 'dist');
const BUILT_PAGES = ['panel.html', 'settings.html'];

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtAt(): number {
  const pages = BUILT_PAGES.map((page) => join(DIST, page));
  return pages.every((page) => existsSync(page)) ? Math.min(...pages.map((page) => statSync(page).mtimeMs)) : 0;
}

/**
 * Builds the panel and settings pages when client/dist is missing or older than a source file, so that
 * `npm test` works on a clean clone. Builds beside the old output and swaps it in, so an app serving the
 * old pages never sees a half-written folder.
 */
export function ensureClientBuilt(): void {
  if (builtAt() >= newestSource(CLIENT)) return;
  const staging = join(CLIENT, `.dist-${process.pid}`);
  const retired = join(CLIENT, `.dist-old-${process.pid}`);
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(CLIENT, 'vite.config.ts'), '--outDir', staging, '--emptyOutDir'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (existsSync(DIST)) renameSync(DIST, retired);
  renameSync(staging, DIST);
  rmSync(retired, { recursive: true, force: true });
}
