// Bulk booking speed (issue 2): transferMany of 10,000 transfers and the whole demo seed, beside a plain INSERT of as many rows in the same run.
import { sql } from 'kysely';
import { parseConfig } from '../src/app/config.ts';
import { createContext } from '../src/app/bootstrap.ts';
import { createLogger } from '../src/app/logger.ts';
import { openPGlite, openPostgres, type DbHandle } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { inTx } from '../src/db/tx.ts';
import { createAccount, transferMany, verifyInvariants, type LedgerAccount, type TransferInput } from '../src/ledger/index.ts';
import { randomToken } from '../src/shared/ids.ts';
import { seedDemo } from '../src/sandbox/demo/index.ts';
import { machine, today, writeSection } from './results.ts';
import { DB_URL, admin } from './db.ts';

const TRANSFERS = 10_000;
const ACCOUNTS = 200;
/** Transfers per transferMany call, as the demo seed books them. */
const BATCH = 500;
/** Bounds from issue 2's seeding requirements: 10,000 transfers within 8 s; the whole demo seed within 15 s on PGlite. */
const TRANSFERS_BUDGET_MS = 8_000;
const DEMO_SEED_BUDGET_MS = 15_000;
const T0 = new Date('2026-01-05T02:00:00Z');


/** The reference: as many rows of a transfer's width, inserted plainly in the same batches. */
async function plainInsertMs(h: DbHandle): Promise<number> {
  await sql`create table bench_plain (id text primary key, debit text not null, credit text not null, amount_fen int8 not null, kind text not null, description text not null, booked_at timestamptz not null)`.execute(h.db);
  const started = performance.now();
  for (let i = 0; i < TRANSFERS; i += BATCH) {
    const rows = Array.from({ length: Math.min(BATCH, TRANSFERS - i) }, (_, k) => sql`(${`p-${i + k}`}, ${'a'}, ${'b'}, ${BigInt(i + k)}, ${'k'}, ${'plain'}, ${T0})`);
    await sql`insert into bench_plain values ${sql.join(rows)}`.execute(h.db);
  }
  return performance.now() - started;
}

/** transferMany over 200 no-overdraft cards, alternating pay-ins and spends as the demo history does. */
async function transferManyMs(h: DbHandle): Promise<number> {
  const tenantId = `bench-${randomToken(4)}`;
  const { clearing, cards } = await inTx(h.db, async (tx) => {
    const clearing = await createAccount(tx, { tenantId, code: 'clearing', name: 'clearing', currency: 'CNY', kind: 'clearing' });
    const cards: LedgerAccount[] = [];
    for (let i = 0; i < ACCOUNTS; i++) cards.push(await createAccount(tx, { tenantId, code: `card-${i}`, name: 'card', currency: 'CNY', kind: 'customer', noOverdraft: true }));
    return { clearing, cards };
  });
  const inputs: TransferInput[] = [];
  for (let i = 0; i < TRANSFERS; i++) {
    const card = cards[i % ACCOUNTS]!;
    const paidIn = Math.floor(i / ACCOUNTS) % 2 === 0;
    const bookedAt = new Date(T0.getTime() + i * 60_000);
    inputs.push({
      idempotencyId: `seed-${i}`,
      debitAccountId: paidIn ? clearing.id : card.id,
      creditAccountId: paidIn ? card.id : clearing.id,
      amountFen: paidIn ? 10_000n : 3_000n,
      kind: paidIn ? 'salary' : 'shopping',
      description: 'bench',
      bookedAt,
      now: bookedAt,
    });
  }
  const started = performance.now();
  for (let i = 0; i < inputs.length; i += BATCH) await inTx(h.db, (tx) => transferMany(tx, inputs.slice(i, i + BATCH)));
  const ms = performance.now() - started;
  const report = await verifyInvariants(h.db, { tenantId });
  if (!report.ok || report.transfersChecked !== TRANSFERS) throw new Error(`ledger unsound after the bulk run: ${JSON.stringify(report.violations.slice(0, 3))}`);
  return ms;
}

async function demoSeedMs(): Promise<number> {
  const handle = await openPGlite(undefined);
  await migrateToLatest(handle.db);
  const config = parseConfig({
    FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
    BLIND_INDEX_KEY: 'ab'.repeat(32),
    PASSWORD_PEPPER: 'bench-pepper-0123456789',
    SANDBOX: 'true',
    SEED_DEMO: 'false',
    LOG_LEVEL: 'warn',
  });
  const running = await createContext(config, { log: createLogger('warn'), dbHandle: handle, migrate: false });
  try {
    const started = performance.now();
    await seedDemo(running.ctx);
    return performance.now() - started;
  } finally {
    await running.close();
  }
}

async function onBoth(): Promise<{ kind: string; transfersMs: number; plainMs: number }[]> {
  const out = [];
  const schema = `bench_${randomToken(6)}`;
  await admin(`create schema ${schema}`);
  const pgHandle = openPostgres({ url: DB_URL, poolMax: 4, schema, applicationName: 'wecard-bench-bulk' });
  try {
    await migrateToLatest(pgHandle.db);
    out.push({ kind: 'PostgreSQL', plainMs: await plainInsertMs(pgHandle), transfersMs: await transferManyMs(pgHandle) });
  } finally {
    await pgHandle.close();
    await admin(`drop schema if exists ${schema} cascade`);
  }
  const lite = await openPGlite(undefined);
  try {
    await migrateToLatest(lite.db);
    out.push({ kind: 'PGlite (in memory)', plainMs: await plainInsertMs(lite), transfersMs: await transferManyMs(lite) });
  } finally {
    await lite.close();
  }
  return out;
}

async function main(): Promise<void> {
  process.stdout.write(`booking ${TRANSFERS} transfers on PostgreSQL and PGlite, then the demo seed on PGlite…\n`);
  const rows = await onBoth();
  const seedMs = await demoSeedMs();
  const pass = rows.every((r) => r.transfersMs <= TRANSFERS_BUDGET_MS) && seedMs <= DEMO_SEED_BUDGET_MS;
  const report = [
    '## Bulk booking: transferMany and the demo seed (issue 2)',
    '',
    `What is measured: ${TRANSFERS.toLocaleString('en')} transfers over ${ACCOUNTS} no-overdraft accounts booked by \`transferMany\` in calls of ${BATCH}, one transaction each (the way the demo seed and 补登 catch-up book), checked sound afterwards; the reference is a plain multi-row INSERT of as many rows of a transfer's width in the same batches, on the same database in the same run. The demo seed is \`seedDemo\` on a fresh in-memory PGlite (every demo tenant, cardholder, card and a year of history).`,
    '',
    `- date: ${today()}`,
    `- machine: ${machine()}`,
    '',
    '| database | plain INSERT of the rows (reference) | transferMany | ratio | bound |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.kind} | ${r.plainMs.toFixed(0)} ms | ${r.transfersMs.toFixed(0)} ms | ${(r.transfersMs / r.plainMs).toFixed(1)} × | ≤ ${TRANSFERS_BUDGET_MS} ms |`),
    '',
    `Demo seed on PGlite: **${(seedMs / 1000).toFixed(1)} s** (bound ≤ ${DEMO_SEED_BUDGET_MS / 1000} s). All bounds: **${pass ? 'met' : 'NOT met'}**.`,
  ].join('\n');
  process.stdout.write(`\n${report}\n`);
  if (process.argv.includes('--write')) {
    writeSection('bulk', report);
    process.stdout.write('\nwrote the bulk section of bench/RESULTS.md\n');
  }
  if (!pass) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
