// `npm run audit:verify` as a real process: exit 0 on a sound chain with heads to anchor, 1 on a modified row, 2 on bad config or arguments, 3 when it cannot verify.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openPGlite, type DbHandle } from '../../../src/db/connect.ts';
import { migrateToLatest } from '../../../src/db/migrate.ts';
import { openTestDb, testDbKind, type TestDb } from '../../helpers/db.ts';
import { asSuperuser, freshTenant, recordMany, sealNow, seqsOf } from './fixtures.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const CLI_TIMEOUT_MS = 60_000;
const OPEN_DB_TIMEOUT_MS = 120_000;
/** Production config wants keys with DATABASE_URL even though verifying reads none. */
const KEYS = {
  FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
  BLIND_INDEX_KEY: '1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100',
  PASSWORD_PEPPER: 'test-pepper-0123456789',
};

function runCli(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/audit-verify.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`audit-verify did not exit in ${CLI_TIMEOUT_MS} ms:\n${out}`));
    }, CLI_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/**
 * The database the CLI will open, with a way to work on it from the test: a schema on PostgreSQL
 * (DATABASE_URL carries its search_path), or a PGlite data directory (closed while the CLI runs,
 * since one PGlite directory has one user at a time).
 */
interface Target {
  env: Record<string, string>;
  use<T>(fn: (h: DbHandle) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

async function openTarget(): Promise<Target> {
  if (testDbKind() === 'postgres') {
    const db: TestDb = await openTestDb({ poolMax: 2 });
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.searchParams.set('options', `-c search_path=${db.schema}`);
    return { env: { ...KEYS, DATABASE_URL: url.toString() }, use: (fn) => fn(db), close: () => db.close() };
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'wecard-audit-cli-'));
  const use = async <T,>(fn: (h: DbHandle) => Promise<T>): Promise<T> => {
    const h = await openPGlite(dataDir);
    try {
      return await fn(h);
    } finally {
      await h.close();
    }
  };
  await use((h) => migrateToLatest(h.db));
  return { env: { DATA_DIR: dataDir }, use, close: async () => rmSync(dataDir, { recursive: true, force: true }) };
}

let target: Target;
const tenant = freshTenant();
let seqs: bigint[] = [];

beforeAll(async () => {
  target = await openTarget();
  seqs = await target.use(async (h) => {
    await recordMany(h.db, tenant, 5);
    await sealNow(h.db);
    return seqsOf(h.db, tenant);
  });
}, OPEN_DB_TIMEOUT_MS);
afterAll(async () => {
  await target?.close();
});

describe('npm run audit:verify', () => {
  let head = '';

  it('exits 0 on a sound chain and prints each tenant head to anchor', { timeout: CLI_TIMEOUT_MS }, async () => {
    const r = await runCli(target.env);
    expect(r.out).toContain('audit chain sound: 5 sealed rows checked');
    expect(r.code).toBe(0);
    head = r.out.split('\n').find((l) => l.trim().startsWith(`${tenant}:`))!.trim();
    expect(head).toMatch(new RegExp(`^${tenant}:${seqs[4]}:[0-9a-f]{64}$`));
  });

  it('exits 1 naming the row when a sealed row was modified behind the triggers', { timeout: CLI_TIMEOUT_MS }, async () => {
    await target.use((h) =>
      asSuperuser(h.db, async (tx) => {
        await sql`update audit_log set outcome = 'refused' where seq = ${seqs[2]}`.execute(tx);
      }),
    );
    const r = await runCli(target.env, ['--tenant', tenant, '--anchor', head]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('audit chain TAMPERED');
    expect(r.out).toMatch(new RegExp(`seq ${seqs[2]}\\s+modified`));
  });

  it('exits 2 on a bad argument or a bad configuration', { timeout: CLI_TIMEOUT_MS }, async () => {
    const badArg = await runCli(target.env, ['--after', 'yesterday']);
    expect(badArg.code).toBe(2);
    expect(badArg.out).toContain('--after');
    const badConfig = await runCli({ DATABASE_URL: 'mysql://127.0.0.1/x' });
    expect(badConfig.code).toBe(2);
    expect(badConfig.out).toContain('DATABASE_URL');
  });

  it('exits 3 when the database cannot be reached', { timeout: CLI_TIMEOUT_MS }, async () => {
    const r = await runCli({ ...KEYS, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(r.code).toBe(3);
    expect(r.out).toContain('could not verify');
  });
});
