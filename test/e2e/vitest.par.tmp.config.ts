// Runs the e2e project on its own (`npx vitest run --config test/e2e/vitest.config.ts`) until vitest.config.ts gains an e2e project.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    globalSetup: ['test/helpers/global-setup.ts', 'test/e2e/global-setup.ts'],
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 90_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: true, maxWorkers: 2, minWorkers: 1,
  },
});
