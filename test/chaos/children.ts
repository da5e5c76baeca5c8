// The processes of the chaos run: two wecard instances (the real entry point, src/main.ts, configured by environment) and the sandbox process; started, watched, SIGKILLed and restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { onCleanup, shuttingDown, sleep } from './services.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const GUARD = path.join(import.meta.dirname, 'orphan-guard.ts');
const SANDBOX_SCRIPT = path.join(import.meta.dirname, 'sandbox-child.ts');
/** A start (tsx compiling on a busy 2-core machine included) must be done by then. */
export const CHILD_START_TIMEOUT_MS = 90_000;
/** Output kept in memory for error messages (everything goes to the log file). */
const TAIL_CHARS = 4_000;
/** A crashed process is started again after this pause, as a service manager would (systemd Restart=always). */
const RESTART_PAUSE_MS = 1_000;

export interface Child {
  name: string;
  port: number;
  proc: ChildProcess;
  /** Resolves when the process printed its ready line; rejects when it exits first or times out. */
  ready: Promise<void>;
  tail(): string;
  alive(): boolean;
}

export interface ChildSpec {
  name: string;
  port: number;
  env: Record<string, string>;
  /** The script run with tsx, relative to the repository root or absolute. */
  script: string;
  /** A line of stdout containing this means ready. */
  readyText: string;
  logFile: string;
}

/** The environment every child gets: only what it needs (no inherited secrets), plus PATH and HOME. */
function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}) };
}

export function startChild(spec: ChildSpec): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--import', GUARD, spec.script], {
    cwd: ROOT,
    env: { ...baseEnv(), ...spec.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log: WriteStream = createWriteStream(spec.logFile, { flags: 'a' });
  log.write(`\n==== ${new Date().toISOString()} ${spec.name} starting (pid ${proc.pid})\n`);
  let tail = '';
  let seen = '';
  const onOut = (d: Buffer) => {
    log.write(d);
    tail = (tail + d.toString()).slice(-TAIL_CHARS);
  };
  proc.stdout!.on('data', onOut);
  proc.stderr!.on('data', onOut);
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const unregister = onCleanup(
    spec.name,
    async () => {
      if (!alive()) return;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await gone;
    },
    () => {
      if (alive()) proc.kill('SIGKILL');
    },
  );
  proc.once('exit', (code, signal) => {
    log.end(`==== ${new Date().toISOString()} ${spec.name} exited (${code ?? signal})\n`);
    unregister();
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${spec.name} not ready after ${CHILD_START_TIMEOUT_MS} ms:\n${tail}`)), CHILD_START_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      seen = (seen + d.toString()).slice(-TAIL_CHARS);
      if (seen.includes(spec.readyText)) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited (${code ?? signal}) before it was ready:\n${tail}`));
    });
  });
  // A rejection nobody awaits yet (the child died later) must not crash the runner.
  ready.catch(() => undefined);
  return { name: spec.name, port: spec.port, proc, ready, tail: () => tail, alive };
}

/** SIGKILL, and wait until the process is gone. */
export async function killChild(c: Child): Promise<void> {
  if (!c.alive()) return;
  const gone = new Promise<void>((r) => c.proc.once('exit', () => r()));
  c.proc.kill('SIGKILL');
  await gone;
}

/** A wecard instance: `src/main.ts`, whose ready line is "wecard is running". */
export function startInstance(name: string, port: number, env: Record<string, string>, logFile: string): Child {
  return startChild({ name, port, env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, script: 'src/main.ts', readyText: 'wecard is running', logFile });
}

export function startSandbox(port: number, env: Record<string, string>, logFile: string): Child {
  return startChild({ name: 'sandbox', port, env: { ...env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }, script: SANDBOX_SCRIPT, readyText: 'sandbox ready', logFile });
}

export interface Crash {
  name: string;
  at: number;
  /** The first line of its last error output. */
  reason: string;
}

/** What a crashed process last said that looks like the cause. */
function crashReason(tail: string): string {
  const lines = tail.split('\n').map((l) => l.trim()).filter(Boolean);
  const hit = [...lines].reverse().find((l) => /^(\w*Error|Error)\b|Unhandled|throw er/.test(l) && !l.startsWith('at '));
  return (hit ?? lines.at(-1) ?? 'no output').slice(0, 200);
}

/**
 * One process slot kept running as a service manager keeps it: a kill ordered by the run is
 * expected; any other exit is a crash, recorded and followed by a restart on the same port.
 */
export class Supervised {
  child: Child;
  readonly crashes: Crash[] = [];
  #expected = new WeakSet<Child>();
  #restarting: Promise<void> | undefined;

  constructor(private readonly spawnIt: () => Child) {
    this.child = this.#start();
  }

  get port(): number {
    return this.child.port;
  }

  #start(): Child {
    const c = this.spawnIt();
    c.proc.once('exit', () => {
      if (this.#expected.has(c) || shuttingDown() || this.child !== c) return;
      this.crashes.push({ name: c.name, at: Date.now(), reason: crashReason(c.tail()) });
      this.#restarting = sleep(RESTART_PAUSE_MS).then(() => {
        if (!shuttingDown()) this.child = this.#start();
      });
    });
    return c;
  }

  /** SIGKILL on purpose (not a crash). */
  async kill(): Promise<void> {
    this.#expected.add(this.child);
    await killChild(this.child);
  }

  /** Starts it again after a kill; resolves when it is ready. */
  async restart(): Promise<void> {
    this.child = this.#start();
    await this.child.ready;
  }

  /** Ready now, or after the restart that follows a crash. */
  async ready(): Promise<void> {
    await this.#restarting;
    await this.child.ready;
  }
}
