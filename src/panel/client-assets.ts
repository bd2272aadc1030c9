import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';

/** The project root: the nearest folder above this file holding package.json (src/ under ts-node, dist/src/ when built). */
function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + __dirname);
    dir = parent;
  }
  return dir;
}

/** Where `vite build --config client/vite.config.ts` writes the panel and settings pages. */
export const CLIENT_DIST = resolve(projectRoot(), 'client', 'dist');

export type ClientPage = 'panel' | 'settings';

/** The content types of the asset kinds a build makes (hashed names only: nothing outside client/dist/assets can be asked for). */
const ASSET_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};
const ASSET_NAME = /^[\w.-]+\.(js|css|svg|png|woff2)$/;

const pages = new Map<ClientPage, { mtimeMs: number; html: string }>();

/** The built HTML of a page, re-read when a rebuild changed it; null when the client was never built. */
export function clientPage(page: ClientPage): string | null {
  const file = join(CLIENT_DIST, `${page}.html`);
  if (!existsSync(file)) return null;
  const { mtimeMs } = statSync(file);
  const cached = pages.get(page);
  if (cached && cached.mtimeMs === mtimeMs) return cached.html;
  const html = readFileSync(file, 'utf8');
  pages.set(page, { mtimeMs, html });
  return html;
}

/** Absolute path and content type of a built asset, or null for a name that is not one. */
export function clientAsset(name: string): { file: string; contentType: string } | null {
  if (!ASSET_NAME.test(name) || name.startsWith('.')) return null;
  const file = join(CLIENT_DIST, 'assets', name);
  return existsSync(file) ? { file, contentType: ASSET_TYPES[extname(name)] } : null;
}
