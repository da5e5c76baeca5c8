// The chaos run's own services on loopback: a private PostgreSQL cluster (initdb into a temp dir) and a private Redis, plus the registry that stops everything the run started, even on failure or Ctrl-C.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../helpers/net.ts';
export { freePort };

/** PostgreSQL 15's binaries (Debian's layout), else the newest installed, unless WECARD_CHAOS_PG_BIN names a directory. */
const PG_BIN = process.env.WECARD_CHAOS_PG_BIN ?? pgBinDir();
/** How often the reaper looks whether the runner is still alive. */
const REAPER_POLL_S = 1;

function pgBinDir(): string {
  const preferred = '/usr/lib/postgresql/15/bin';
  if (existsSync(path.join(preferred, 'initdb'))) return preferred;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : preferred;
}
/** pg_ctl waits this long for a start or a stop. */
const PG_CTL_TIMEOUT_S = 60;
const REDIS_START_TIMEOUT_MS = 10_000;
/** Async clean-ups get this long in all on Ctrl-C before the synchronous fallbacks run. */
const CLEANUP_TIMEOUT_MS = 20_000;

// ---- clean-up registry ------------------------------------------------------------------------------

interface Cleanup {
  name: string;
  /** The orderly way (awaited in reverse order of registration). */
  run: () => Promise<void>;
  /** The last resort at process exit: synchronous, never throws. */
  sync: () => void;
}

const cleanups: Cleanup[] = [];
let cleaning: Promise<void> | undefined;

/** Registers what stops a started thing; returns its removal (for things stopped on purpose). */
export function onCleanup(name: string, run: () => Promise<void>, sync: () => void): () => void {
  const c: Cleanup = { name, run, sync };
  cleanups.push(c);
  return () => {
    const i = cleanups.indexOf(c);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** True once the run is stopping everything: a process exiting then is no crash. */
export function shuttingDown(): boolean {
  return cleaning !== undefined;
}

/** Stops everything still registered, newest first; each failure is reported, none stops the rest. */
export function cleanUpAll(): Promise<void> {
  cleaning ??= (async () => {
    const deadline = Date.now() + CLEANUP_TIMEOUT_MS;
    while (cleanups.length > 0) {
      const c = cleanups.pop()!;
      const left = deadline - Date.now();
      try {
        if (left <= 0) throw new Error('out of time');
        await Promise.race([c.run(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), left).unref())]);
      } catch (err) {
        process.stderr.write(`chaos: clean-up of ${c.name} failed (${(err as Error).message}); forcing it\n`);
        c.sync();
      }
    }
  })();
  return cleaning;
}

/** Ctrl-C and SIGTERM stop everything first; a plain exit runs the synchronous fallbacks of whatever is left. */
export function installSignalHandlers(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nchaos: ${signal}: stopping everything it started…\n`);
      void cleanUpAll().finally(() => process.exit(130));
    });
  }
  process.once('exit', () => {
    for (const c of cleanups.splice(0).reverse()) c.sync();
  });
}

// ---- ports ------------------------------------------------------------------------------------------


export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- private PostgreSQL -----------------------------------------------------------------------------

export interface PrivatePostgres {
  port: number;
  /** "PostgreSQL 15.x" */
  version: string;
  /** The cluster's directory (data and socket). */
  dir: string;
  dataDir: string;
  /** postgres://postgres@127.0.0.1:port/<database> */
  url(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** Stops the server: `immediate` is a crash (WAL recovery on the next start), `fast` an orderly stop. */
  stop(mode: 'immediate' | 'fast'): void;
  start(): void;
  /** Stops it and deletes its directory. */
  destroy(): void;
}

/** initdb refuses root: as root every PostgreSQL binary runs as the `postgres` OS user. */
function asPostgres(bin: string, args: string[]): { file: string; args: string[] } {
  const file = path.join(PG_BIN, bin);
  return process.getuid?.() === 0 ? { file: 'runuser', args: ['-u', 'postgres', '--', file, ...args] } : { file, args };
}

function runPg(bin: string, args: string[]): string {
  const c = asPostgres(bin, args);
  return execFileSync(c.file, c.args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A throw-away cluster in a temp dir, trust authentication, listening on 127.0.0.1 only (its
 * socket in the same dir). fsync is off: the run restarts the server, never the machine.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wecard-chaos-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  let running = false;
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  const stop = (mode: 'immediate' | 'fast') => {
    if (!running) return;
    runPg('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', String(PG_CTL_TIMEOUT_S), 'stop']);
    running = false;
  };
  const destroy = () => {
    try {
      stop('immediate');
    } catch {
      /* already gone */
    }
    removeDir();
  };
  const unregister = onCleanup('private PostgreSQL', async () => destroy(), () => {
    try {
      destroy();
    } catch {
      /* best effort at exit */
    }
  });
  try {
    runPg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  } catch (err) {
    unregister();
    removeDir();
    throw err;
  }
  const options = [`-p ${port}`, `-k ${dir}`, `-c listen_addresses=127.0.0.1`, '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=100', '-c shared_buffers=64MB'].join(' ');
  const start = () => {
    runPg('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', String(PG_CTL_TIMEOUT_S), 'start']);
    running = true;
  };
  start();
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const version = execFileSync(path.join(PG_BIN, 'postgres'), ['--version'], { encoding: 'utf8' }).trim().replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL ');
  return {
    port,
    version,
    dir,
    dataDir: data,
    url,
    createDatabase: async (name) => {
      const c = new pg.Client({ connectionString: url('postgres') });
      await c.connect();
      try {
        await c.query(`create database ${name}`);
      } finally {
        await c.end();
      }
    },
    stop,
    start,
    destroy: () => {
      unregister();
      destroy();
    },
  };
}

// ---- private Redis ----------------------------------------------------------------------------------

export interface PrivateRedis {
  port: number;
  url: string;
  /** SIGKILL: the server is gone at once, connections drop. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** redis-server on 127.0.0.1 with no persistence (`--save ""`): a restart comes back empty, as a lost cache does. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const alive = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  const kill = async () => {
    if (!proc || !alive()) return;
    const p = proc;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
  };
  const start = async () => {
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out.slice(-500)}`)), REDIS_START_TIMEOUT_MS);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          p.stdout!.off('data', onData);
          p.stdout!.resume();
          resolve();
        }
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', (d) => (out += d));
      p.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code ?? signal}): ${out.slice(-500)}`));
      });
    });
  };
  onCleanup('private Redis', kill, () => {
    if (alive()) proc!.kill('SIGKILL');
  });
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}

// ---- reaper -------------------------------------------------------------------------------------------

/**
 * A detached shell that outlives the runner only to clean up after it: when the runner dies without
 * its clean-ups (SIGKILL), it stops the private PostgreSQL, shuts the private Redis down and deletes
 * the cluster's directory. An orderly end stops the reaper first (it is registered last), so it never
 * touches a port someone else may have taken since. The instances and the sandbox need no reaper:
 * they exit when their stdin from the runner closes (orphan-guard.ts).
 */
export function startReaper(pg: PrivatePostgres, redis: PrivateRedis): void {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const pgCtl = asPostgres('pg_ctl', ['-D', pg.dataDir, '-m', 'immediate', 'stop']);
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep ${REAPER_POLL_S}; done`,
    `${[pgCtl.file, ...pgCtl.args].map(q).join(' ')} >/dev/null 2>&1`,
    `redis-cli -h 127.0.0.1 -p ${redis.port} shutdown nosave >/dev/null 2>&1`,
    `rm -rf ${q(pg.dir)}`,
  ].join('; ');
  const reaper = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  reaper.unref();
  onCleanup('reaper', async () => void reaper.kill('SIGKILL'), () => void reaper.kill('SIGKILL'));
}
