// The process the kill test SIGKILLs: the real wecard server (identity, Pay notifications, top-ups, jobs polling) on the test's PostgreSQL schema.
// It starts warm and listens on the fixed port only when the test writes "go" to its stdin, so a spare can be ready while its predecessor is still being killed.
import { createInterface } from 'node:readline';
import { sql } from 'kysely';
import { createContext } from '../../../src/app/bootstrap.ts';
import { buildServer } from '../../../src/app/server.ts';
import { openPostgres } from '../../../src/db/connect.ts';
import { identityRoutes } from '../../../src/identity/index.ts';
import { systemClock } from '../../../src/shared/clock.ts';
import { topupPaymentHandlers, topupRoutes } from '../../../src/topup/index.ts';
import { payNotifications } from '../../../src/wechat/pay/index.ts';
import { testConfig } from '../../helpers/app.ts';
import { captureLogs } from '../../helpers/logs.ts';

const JOBS_POLL_MS = 250;

async function main(): Promise<void> {
  const port = Number(process.env.KILL_PORT);
  const sandbox = process.env.KILL_SANDBOX_URL!;
  const url = `http://127.0.0.1:${port}`;
  const config = testConfig({
    PORT: String(port),
    PUBLIC_URL: url,
    LOG_LEVEL: 'info',
    WECHAT_API_BASE: `${sandbox}/sandbox/wx`,
    WECHAT_PAY_BASE: `${sandbox}/sandbox/pay`,
    WECOM_API_BASE: `${sandbox}/sandbox/wecom`,
    WECHAT_OPEN_BASE: `${sandbox}/sandbox/open`,
  });
  const dbHandle = openPostgres({ url: process.env.KILL_DATABASE_URL!, poolMax: 10, schema: process.env.KILL_SCHEMA!, applicationName: 'wecard-kill-child' });
  const { log } = captureLogs();
  const running = await createContext(config, { log, clock: systemClock, dbHandle, migrate: false });
  const app = await buildServer(running.ctx, { modules: [identityRoutes(), payNotifications(topupPaymentHandlers()), topupRoutes({ scheduleDaily: false })] });
  await app.ready();
  // Connections opened before the first request, as a long-running instance would have them.
  await Promise.all(Array.from({ length: 4 }, () => sql`select pg_sleep(0.01)`.execute(running.ctx.db)));
  process.stdout.write('warm\n');
  // Started through kill-loader.cjs: keep the compiled code for the next restarts.
  (globalThis as { __wecardWriteCodeCache?: () => void }).__wecardWriteCodeCache?.();
  const lines = createInterface({ input: process.stdin });
  // The test gone (stdin closed) means nobody will ever say go: leave.
  lines.on('close', () => process.exit(0));
  for await (const line of lines) {
    if (line.trim() !== 'go') continue;
    await app.listen({ host: '127.0.0.1', port });
    running.ctx.jobs.start(JOBS_POLL_MS);
    process.stdout.write('ready\n');
  }
}

main().catch((err) => {
  process.stderr.write(`kill child failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
