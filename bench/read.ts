// Ledger-backed account read vs bare Fastify, same run, on PostgreSQL (issue 2); writes its RESULTS.md section with --write.
import { fork } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import { openPostgres } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { inTx } from '../src/db/tx.ts';
import { createAccount, transfer } from '../src/ledger/index.ts';
import { randomToken } from '../src/shared/ids.ts';
import { benchToken } from './server.ts';
import { machine, today, writeSection } from './results.ts';
import { DB_URL, admin } from './db.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '64');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? '10');
const WARMUP_S = 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
const ACCOUNTS = 1000;
/** Targets from issue 2: the ledger read keeps ≥ 40 % of bare Fastify's req/s with p99 ≤ 25 ms at 64 connections. */
const TARGET_RATIO = 0.4;
const TARGET_P99_MS = 25;

interface Figures {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}


async function seed(schema: string): Promise<string[]> {
  const h = openPostgres({ url: DB_URL, poolMax: 4, schema, applicationName: 'wecard-bench-seed' });
  try {
    await migrateToLatest(h.db);
    const now = new Date();
    const ids = await inTx(h.db, async (tx) => {
      const clearing = await createAccount(tx, { tenantId: 'bench', code: 'clearing', name: 'clearing', currency: 'CNY', kind: 'clearing' });
      const out: string[] = [];
      for (let i = 0; i < ACCOUNTS; i++) {
        const a = await createAccount(tx, { tenantId: 'bench', code: `cust-${i}`, name: `customer ${i}`, currency: 'CNY', kind: 'customer', noOverdraft: true });
        await transfer(tx, {
          idempotencyId: `seed-${i}`,
          debitAccountId: clearing.id,
          creditAccountId: a.id,
          amountFen: BigInt(10_000 + i),
          kind: 'salary',
          description: 'bench seed',
          now,
        });
        out.push(a.id);
      }
      return out;
    });
    return ids;
  } finally {
    await h.close();
  }
}

async function measure(opts: autocannon.Options, seconds: number): Promise<Figures> {
  const r = await autocannon({ ...opts, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  return {
    reqPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

async function main(): Promise<void> {
  const schema = `bench_${randomToken(6)}`;
  await admin(`create schema ${schema}`);
  const child = fork(path.resolve(import.meta.dirname, 'server.ts'), [], {
    // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the server process there.
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, BENCH_CHILD: '1', BENCH_DATABASE_URL: DB_URL, BENCH_SCHEMA: schema },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    process.stdout.write(`seeding ${ACCOUNTS} ledger accounts in schema ${schema}…\n`);
    const ids = await seed(schema);
    const ports = await new Promise<{ appPort: number; barePort: number }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { appPort: number; barePort: number }));
      child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    const token = benchToken('user-bench');
    let n = 0;
    const ledgerOpts: autocannon.Options = {
      url: `http://127.0.0.1:${ports.appPort}`,
      headers: { authorization: `Bearer ${token}` },
      requests: [{ setupRequest: (req) => ({ ...req, path: `/bench/accounts/${ids[n++ % ids.length]}/balance` }) }],
    };
    const bareOpts: autocannon.Options = { url: `http://127.0.0.1:${ports.barePort}/bare` };

    // Sanity: the read really answers from the ledger, and a bad token is refused.
    const probe = await fetch(`http://127.0.0.1:${ports.appPort}/bench/accounts/${ids[0]}/balance`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await probe.json()) as { available: number };
    if (probe.status !== 200 || body.available !== 10_000) throw new Error(`ledger read answered ${probe.status} ${JSON.stringify(body)}`);
    const refused = await fetch(`http://127.0.0.1:${ports.appPort}/bench/accounts/${ids[0]}/balance`, { headers: { authorization: 'Bearer x.y' } });
    if (refused.status !== 401) throw new Error(`a bad token was not refused (${refused.status})`);

    process.stdout.write(`warming up (${WARMUP_S}s each)…\n`);
    await measure(bareOpts, WARMUP_S);
    await measure(ledgerOpts, WARMUP_S);
    const bare: Figures[] = [];
    const ledger: Figures[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      bare.push(await measure(bareOpts, DURATION_S));
      ledger.push(await measure(ledgerOpts, DURATION_S));
      process.stdout.write(`round ${round}: bare ${bare.at(-1)!.reqPerSec.toFixed(0)} req/s, ledger read ${ledger.at(-1)!.reqPerSec.toFixed(0)} req/s p99 ${ledger.at(-1)!.p99Ms} ms\n`);
    }
    const errors = [...bare, ...ledger].reduce((a, f) => a + f.errors + f.non2xx, 0);
    const bareRps = mean(bare.map((f) => f.reqPerSec));
    const ledgerRps = mean(ledger.map((f) => f.reqPerSec));
    const ratio = ledgerRps / bareRps;
    const p99 = Math.max(...ledger.map((f) => f.p99Ms));
    const pgVersion = await admin('show server_version');
    const pass = ratio >= TARGET_RATIO && p99 <= TARGET_P99_MS && errors === 0;
    const report = [
      SECTION_INTRO,
      '',
      `- date: ${today()}`,
      `- machine: ${machine()}; PostgreSQL ${pgVersion} on the same machine`,
      `- load: autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION_S} s per endpoint after ${WARMUP_S} s warm-up; server, database and load generator share the machine`,
      '',
      '| endpoint | req/s (mean) | p50 ms | p99 ms (worst round) | errors |',
      '|---|---|---|---|---|',
      `| bare Fastify \`GET /bare\` (reference, same run) | ${bareRps.toFixed(0)} | ${Math.max(...bare.map((f) => f.p50Ms))} | ${Math.max(...bare.map((f) => f.p99Ms))} | ${bare.reduce((a, f) => a + f.errors + f.non2xx, 0)} |`,
      `| wecard ledger balance read (token check, PostgreSQL, response schema, request logging) | ${ledgerRps.toFixed(0)} | ${Math.max(...ledger.map((f) => f.p50Ms))} | ${p99} | ${ledger.reduce((a, f) => a + f.errors + f.non2xx, 0)} |`,
      '',
      `Ratio ledger/bare: **${(ratio * 100).toFixed(1)} %** (target ≥ ${TARGET_RATIO * 100} %); p99 **${p99} ms** (target ≤ ${TARGET_P99_MS} ms): **${pass ? 'met' : 'NOT met'}**.`,
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    if (process.argv.includes('--write')) {
      writeSection('read', report);
      process.stdout.write('\nwrote the read section of bench/RESULTS.md\n');
    }
    if (!pass) process.exitCode = 1;
  } finally {
    child.kill();
    await admin(`drop schema if exists ${schema} cascade`);
  }
}

const SECTION_INTRO = `## Ledger-backed account read (issue 2)

What is measured: \`GET /bench/accounts/{id}/balance\` on the real server (\`buildServer\`, request ids,
metrics, problem+json, pino request logging at \`info\` through the redacting logger), with a bearer
token verified by HMAC in a pre-handler, the balance read by \`getBalance\` from PostgreSQL over the
connection pool (\`DB_POOL_MAX\` 20), serialised through the route's response schema; 1,000 accounts
read round-robin. The reference is a bare \`Fastify()\` JSON route in the same child process.
Concurrent reads outside a transaction are answered together by one \`id = any($1)\` query per
event-loop turn (src/ledger/batch-read.ts), over prepared statements.`;

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
