import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const root = resolve(__dirname);

/** Two pages (deal panel, settings) into client/dist, assets with content hashes so they can be cached for good. */
export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    target: 'es2020',
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { panel: resolve(root, 'panel.html'), settings: resolve(root, 'settings.html') },
    },
  },
});
