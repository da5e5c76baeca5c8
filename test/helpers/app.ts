// Starts a real server on a test database (PostgreSQL or PGlite) with captured logs and a manual clock.
import { parseConfig, type Config } from '../../src/app/config.ts';
import { createContext } from '../../src/app/bootstrap.ts';
import { buildServer, type ModulePlugin } from '../../src/app/server.ts';
import { modulesFor } from '../../src/app/modules.ts';
import { ManualClock, type Clock } from '../../src/shared/clock.ts';
import { openTestDb, type TestDb } from './db.ts';
import { captureLogs } from './logs.ts';

const TEST_KEYS = {
  FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
  BLIND_INDEX_KEY: '1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100',
  PASSWORD_PEPPER: 'test-pepper-0123456789',
};

export function testConfig(overrides: Record<string, string> = {}): Config {
  return parseConfig({ ...TEST_KEYS, LOG_LEVEL: 'debug', SEED_DEMO: 'false', SANDBOX: 'true', NODE_ENV: 'test', ...overrides });
}

export interface TestApp {
  app: Awaited<ReturnType<typeof buildServer>>;
  ctx: Awaited<ReturnType<typeof createContext>>['ctx'];
  db: TestDb;
  clock: Clock;
  logs: string[];
  close(): Promise<void>;
}

export async function startTestApp(
  opts: { config?: Record<string, string>; modules?: ModulePlugin[]; clock?: Clock; db?: TestDb } = {},
): Promise<TestApp> {
  const db = opts.db ?? (await openTestDb());
  const config = testConfig(opts.config);
  const { log, lines } = captureLogs();
  const clock = opts.clock ?? new ManualClock();
  const running = await createContext(config, { log, clock, dbHandle: db, migrate: false });
  const app = await buildServer(running.ctx, { modules: opts.modules ?? modulesFor(config) });
  return {
    app,
    ctx: running.ctx,
    db,
    clock,
    logs: lines,
    close: async () => {
      await app.close();
      if (!opts.db) await db.close();
    },
  };
}
