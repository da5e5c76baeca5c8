// Runs the sandbox WeChat platform and one or more wecard instances as real HTTP servers on one test database.
import type { ModulePlugin } from '../../src/app/server.ts';
import { buildServer } from '../../src/app/server.ts';
import { createContext } from '../../src/app/bootstrap.ts';
import type { AppContext } from '../../src/app/context.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { openTestDb, type TestDb } from './db.ts';
import { captureLogs } from './logs.ts';
import { testConfig } from './app.ts';
import { freePort } from './net.ts';
export { freePort };


export interface RunningServer {
  url: string;
  app: Awaited<ReturnType<typeof buildServer>>;
  ctx: AppContext;
  logs: string[];
  close(): Promise<void>;
}

/**
 * Starts a server listening on 127.0.0.1 with the given modules. `db` is shared (several
 * instances on one PostgreSQL schema: pass `db.openAnother()` handles for the second instance).
 */
export async function startServer(opts: {
  modules: ModulePlugin[];
  dbHandle: { db: TestDb['db']; kind: TestDb['kind']; close(): Promise<void> };
  config?: Record<string, string>;
  clock?: Clock;
  /** Poll for background jobs every this many ms (off by default: tests call ctx.jobs.runDue). */
  jobsPollMs?: number;
  /** Listen here (default: a free port). */
  port?: number;
}): Promise<RunningServer> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const config = testConfig({ PORT: String(port), PUBLIC_URL: url, ...opts.config });
  const { log, lines } = captureLogs();
  const running = await createContext(config, { log, clock: opts.clock ?? systemClock, dbHandle: opts.dbHandle, migrate: false });
  const app = await buildServer(running.ctx, { modules: opts.modules });
  await app.listen({ host: '127.0.0.1', port });
  if (opts.jobsPollMs) running.ctx.jobs.start(opts.jobsPollMs);
  return { url, app, ctx: running.ctx, logs: lines, close: async () => { await running.ctx.jobs.stop(); await app.close(); } };
}

export interface Platform {
  db: TestDb;
  sandbox: RunningServer;
  servers: RunningServer[];
  close(): Promise<void>;
}

/**
 * The sandbox platform on its own port plus `instances` wecard servers whose WeChat base URLs
 * point at it, all on one database (instances beyond the first get their own connection pool,
 * as separate processes would). The sandbox calls the first server back unless told otherwise.
 */
export async function startPlatform(opts: {
  sandboxModules: ModulePlugin[];
  serverModules: ModulePlugin[];
  instances?: number;
  /** Extra configuration for every server; a function gets the sandbox's URL (e.g. for CORE_BANKING_URL). */
  config?: Record<string, string> | ((sandboxUrl: string) => Record<string, string>);
  clock?: Clock;
  db?: TestDb;
  /** Poll for background jobs every this many ms on the sandbox and every instance (default off: tests call ctx.jobs.runDue). */
  jobsPollMs?: number;
}): Promise<Platform> {
  const db = opts.db ?? (await openTestDb());
  const instances = opts.instances ?? 1;
  const serverPorts = await Promise.all(Array.from({ length: instances }, () => freePort()));
  const sandboxPort = await freePort();
  const extra = typeof opts.config === 'function' ? opts.config(`http://127.0.0.1:${sandboxPort}`) : opts.config;
  const sandbox = await startServer({
    modules: opts.sandboxModules,
    dbHandle: db,
    clock: opts.clock,
    config: { SANDBOX: 'true', SANDBOX_SERVER_URL: `http://127.0.0.1:${serverPorts[0]}`, ...extra },
    jobsPollMs: opts.jobsPollMs,
    port: sandboxPort,
  });
  const servers: RunningServer[] = [];
  for (let i = 0; i < instances; i++) {
    const url = `http://127.0.0.1:${serverPorts[i]}`;
    const dbHandle = i === 0 ? db : db.openAnother();
    const { log, lines } = captureLogs();
    const config = testConfig({
      PORT: String(serverPorts[i]),
      PUBLIC_URL: url,
      WECHAT_API_BASE: `${sandbox.url}/sandbox/wx`,
      WECHAT_PAY_BASE: `${sandbox.url}/sandbox/pay`,
      WECOM_API_BASE: `${sandbox.url}/sandbox/wecom`,
      WECHAT_OPEN_BASE: `${sandbox.url}/sandbox/open`,
      ...extra,
    });
    const running = await createContext(config, { log, clock: opts.clock ?? systemClock, dbHandle, migrate: false });
    const app = await buildServer(running.ctx, { modules: opts.serverModules });
    await app.listen({ host: '127.0.0.1', port: serverPorts[i]! });
    if (opts.jobsPollMs) running.ctx.jobs.start(opts.jobsPollMs);
    servers.push({ url, app, ctx: running.ctx, logs: lines, close: async () => { await running.ctx.jobs.stop(); await app.close(); } });
  }
  return {
    db,
    sandbox,
    servers,
    close: async () => {
      for (const s of servers) await s.close();
      await sandbox.close();
      if (!opts.db) await db.close();
    },
  };
}
