// Vitest: every test file starts its own real `orderchat serve` (test/support/server.ts);
// files run one after another so a slow 2-core machine is not asked for more than it has,
// and timeouts are generous (tests wait for conditions, they do not sleep).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});
