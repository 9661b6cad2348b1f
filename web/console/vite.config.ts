// Build of the dispatcher console: served by `orderchat serve` under /console/, and built
// straight from the client library's TypeScript sources (no need to build the client first).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const clientSrc = (path: string) => fileURLToPath(new URL(`../packages/client/src/${path}`, import.meta.url));

// `npm run dev`: Vite serves the console and passes the API and Socket.IO through to a
// running orderchat (ORDERCHAT_URL, default http://127.0.0.1:3000), as if from its origin.
const server = process.env.ORDERCHAT_URL ?? 'http://127.0.0.1:3000';
const passThrough = {
  target: server,
  changeOrigin: true,
  ws: true,
  // The server accepts requests and WebSockets from its own origin only.
  configure: (proxy: { on(event: string, listener: (req: { setHeader(name: string, value: string): void }) => void): void }) => {
    proxy.on('proxyReq', (req) => req.setHeader('origin', server));
    proxy.on('proxyReqWs', (req) => req.setHeader('origin', server));
  },
};

export default defineConfig({
  base: '/console/',
  server: { proxy: { '/api': passThrough, '/socket.io': passThrough } },
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
