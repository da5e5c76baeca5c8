// Test projects: pure unit tests, integration on the configured database, and a PGlite pass.
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const pg = process.env.TEST_DATABASE_URL;
/**
 * Projects do not inherit the root's timeouts, so each states them. (Not `extends: true`: that
 * would run the global setup, which clears the captured logs, once per project.)
 */
const TIMEOUTS = { testTimeout: 30_000, hookTimeout: 60_000 };
/**
 * Integration files spend most of their time waiting on PostgreSQL and HTTP, so more files run
 * at once than there are cores (vitest's default is cores − 1: a single worker on a 2-core CI
 * machine). WECARD_TEST_WORKERS overrides.
 */
const WORKERS = Number(process.env.WECARD_TEST_WORKERS ?? Math.max(3, availableParallelism() + 1));

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    reporters: process.env.CI ? ['default'] : ['default'],
    ...TIMEOUTS,
    maxWorkers: WORKERS,
    minWorkers: 1,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], ...TIMEOUTS } },
      {
        test: {
          ...TIMEOUTS,
          name: pg ? 'integration-postgres' : 'integration-pglite',
          include: ['test/integration/**/*.test.ts'],
          env: { WECARD_TEST_DB: pg ? 'postgres' : 'pglite' },
          pool: 'forks',
        },
      },
      // End-to-end: the H5 app, the operator console and the sandbox's phone in Debian's Chromium
      // against a real server. One file at a time (each starts a server and browsers); the global
      // setup builds the web apps when their sources changed, so a fresh checkout needs no extra step.
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          pool: 'forks' as const,
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 90_000,
          hookTimeout: 180_000,
        },
      },
      // With PostgreSQL configured, the database-layer suites run once more on PGlite so both
      // back ends of the one migration set and query code stay green.
      ...(pg
        ? [
            {
              test: {
                ...TIMEOUTS,
                name: 'integration-pglite',
                include: ['test/integration/**/*.both.test.ts'],
                env: { WECARD_TEST_DB: 'pglite' },
                pool: 'forks' as const,
              },
            },
          ]
        : []),
    ],
  },
});
