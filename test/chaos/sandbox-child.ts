// The chaos run's third process: the WeChat platform (users, Pay with its cashier and notifications) and the external core banking system, i.e. the sandbox, on the shared PostgreSQL.
//
// It runs apart from the two wecard instances because it plays the outside world: the instances
// reach it only through their configured base URLs, killing an instance leaves it untouched, and
// the core's fault switch lives in one process's memory, so there must be exactly one core.
import { parseConfig } from '../../src/app/config.ts';
import { createContext } from '../../src/app/bootstrap.ts';
import { buildServer } from '../../src/app/server.ts';
import { createLogger } from '../../src/app/logger.ts';
import { openPostgres } from '../../src/db/connect.ts';
import { demoRoutes } from '../../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../../src/sandbox/wx/index.ts';
import { sandboxPayRoutes } from '../../src/sandbox/pay/index.ts';
import { sandboxCoreRoutes } from '../../src/sandbox/core/index.ts';

/** Notification retries are jobs: polled this often. */
const JOBS_POLL_MS = 500;

async function main(): Promise<void> {
  // The environment is the instances' (keys, CORE_BANKING_TOKEN, database) plus the sandbox's own settings.
  const config = parseConfig({ ...process.env, SANDBOX: 'true', SEED_DEMO: 'false', NODE_ENV: 'test' });
  const log = createLogger(config.logLevel);
  const handle = openPostgres({ url: config.databaseUrl!, poolMax: config.dbPoolMax, applicationName: 'wecard-chaos-sandbox' });
  const { ctx } = await createContext(config, { log, dbHandle: handle, migrate: false });
  const app = await buildServer(ctx, { modules: [sandboxWxRoutes, demoRoutes, sandboxPayRoutes, sandboxCoreRoutes] });
  await app.listen({ host: '127.0.0.1', port: config.port });
  ctx.jobs.start(JOBS_POLL_MS);
  process.stdout.write('sandbox ready\n');
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`chaos sandbox failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
