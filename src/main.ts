// Entry point: `npm start`. Loads config, opens the database, seeds the demo, serves, shuts down gracefully.
import { ConfigError, loadConfig, type Config } from './app/config.ts';
import { createContext } from './app/bootstrap.ts';
import { buildServer } from './app/server.ts';
import { modulesFor } from './app/modules.ts';
import { createLogger } from './app/logger.ts';
import { seedDemoIfEmpty } from './sandbox/demo/index.ts';

/** How often each instance looks for due background jobs. */
const JOB_POLL_INTERVAL_MS = 1_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`wecard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const running = await createContext(config, { log });
  const { ctx } = running;
  if (config.seedDemo) {
    // First start only: a database that already holds a tenant is never touched.
    const seeded = await seedDemoIfEmpty(ctx);
    if (seeded) process.stdout.write(`seeded demo data: ${seeded.seeded.length} institutions, ${seeded.customers} cardholders, ${seeded.transfers} transactions (${seeded.ms} ms)\n`);
  }
  const app = await buildServer(ctx, { modules: modulesFor(config) });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.state.shuttingDown = true;
    log.info({ signal }, 'shutting down: no new requests, finishing in-flight ones');
    const force = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    try {
      await app.close();
      await running.close();
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const address = await app.listen({ host: config.host, port: config.port });
  ctx.jobs.start(JOB_POLL_INTERVAL_MS);
  const url = config.publicUrl;
  log.info({ address, mode: config.mode, database: ctx.dbKind }, 'wecard listening');
  process.stdout.write(
    `\nwecard is running (${config.mode}, ${ctx.dbKind}) at ${url}/\n` +
      (config.sandbox ? `  simulated phone: ${url}/sandbox/\n` : '') +
      `  API docs:        ${url}/docs\n\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`wecard: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
