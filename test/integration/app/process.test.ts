// The real process: `npm start`'s entry point refuses bad config by name, serves, and stops cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/net.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const START_TIMEOUT_MS = 60_000;

function startProcess(env: Record<string, string>): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}


async function waitFor(pred: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('the wecard process', () => {
  it('exits non-zero naming the variable when a config value is bad', async () => {
    const p = startProcess({ PORT: 'eighty', DATA_DIR: path.join(tmpdir(), 'wecard-never-created') });
    const code = await p.exited;
    expect(code).toBe(2);
    expect(p.out()).toMatch(/PORT: must be a whole number/);
  });

  it('exits non-zero when production keys are missing, naming each', async () => {
    const p = startProcess({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(await p.exited).toBe(2);
    for (const name of ['FIELD_KEYS', 'BLIND_INDEX_KEY', 'PASSWORD_PEPPER']) expect(p.out()).toContain(name);
  });

  it(
    'starts embedded on PGlite, seeds the demo, prints its URL, serves /healthz and stops cleanly on SIGTERM',
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'wecard-start-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const port = await freePort();
      const p = startProcess({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
      cleanups.push(() => p.child.kill('SIGKILL'));
      await waitFor(() => p.out().includes('wecard is running') || p.child.exitCode !== null, START_TIMEOUT_MS);
      expect(p.out()).toContain(`http://127.0.0.1:${port}/`);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
      const ready = await (await fetch(`http://127.0.0.1:${port}/readyz`)).json();
      expect(ready).toEqual({ status: 'ready', database: 'pglite' });
      // First start seeded the demo: one institution per preset, with cardholders, on the sandbox's sheet.
      expect(p.out()).toMatch(/seeded demo data: \d+ institutions/);
      const demo = (await (await fetch(`http://127.0.0.1:${port}/sandbox/api/demo`)).json()) as { tenants: { preset: string }[]; cardholders: unknown[] };
      expect(new Set(demo.tenants.map((t) => t.preset))).toEqual(new Set(['agricultural', 'unlimited-realtime', 'daily-10', 'daily-20', 'citizen-card']));
      expect(demo.cardholders.length).toBeGreaterThan(0);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    },
    START_TIMEOUT_MS + 30_000,
  );
});
