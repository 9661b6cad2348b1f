// Build of the dispatcher console: served by `orderchat serve` under /console/, and built
// straight from the client library's TypeScript sources (no need to build the client first).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const clientSrc = (path: string) => fileURLToPath(new URL(`../packages/client/src/${path}`, import.meta.url));

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  resolve: {
    // The more specific alias first: '@orderchat/client' would also match '@orderchat/client/react'.
    alias: [
      { find: /^@orderchat\/client\/react$/, replacement: clientSrc('react/index.ts') },
      { find: /^@orderchat\/client$/, replacement: clientSrc('index.ts') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The server's CSP allows scripts and styles from 'self' only: no inlined module preload polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
