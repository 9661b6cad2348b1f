// Vitest: every test file starts its own real `orderchat serve` (test/support/server.ts);
// files run one after another so a slow 2-core machine is not asked for more than it has,
// and timeouts are generous (tests wait for conditions, they do not sleep).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  // The README example imports the package by name: resolve it to the sources, unbuilt.
  resolve: {
    alias: [
      { find: /^@orderchat\/client\/react$/, replacement: src('react/index.ts') },
      { find: /^@orderchat\/client$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});
