// Balance query through the full cardholder API (session, card checks, risk signal, quota, audit) vs bare Fastify, same run, on PostgreSQL; writes its RESULTS.md section with --write.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pino from 'pino';
import { parseConfig, type Config } from '../src/app/config.ts';
import { createContext } from '../src/app/bootstrap.ts';
import { buildServer } from '../src/app/server.ts';
import { createLogger } from '../src/app/logger.ts';
import { openPostgres } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { inTx } from '../src/db/tx.ts';
import { corePort, createCustomer, openCard } from '../src/core/index.ts';
import { auditJobs } from '../src/audit/index.ts';
import { riskModule } from '../src/risk/index.ts';
import { identityRoutes } from '../src/identity/index.ts';
import { accountsRoutes } from '../src/accounts/index.ts';
import { demoRoutes, internalAccountCode, seedDemo } from '../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../src/sandbox/wx/index.ts';
import { findAccountByCode, transferMany } from '../src/ledger/index.ts';
import { generateCardNumber, seededRandom } from '../src/shared/card-number.ts';
import { generateIdNumber } from '../src/shared/id-document.ts';
import { randomToken } from '../src/shared/ids.ts';
import { machine, today, writeSection } from './results.ts';
import { DB_URL, admin, freePort } from './db.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '64');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? '10');
const WARMUP_S = 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
/** Cardholders signed in and bound through the API; requests go round-robin over them. */
const USERS = Number(process.env.BENCH_USERS ?? '256');
/** Sign-ins and bindings in flight at once while setting up. */
const SETUP_CONCURRENCY = 16;
/** Issue 5: the full-API balance query keeps ≥ 40 % of bare Fastify's req/s with p99 ≤ 25 ms at 64 connections. */
const TARGET_RATIO = 0.4;
const TARGET_P99_MS = 25;
/** The demo's real-time, unlimited-quota bank: every request is counted (quota row, risk signal) but none refused. */
const TENANT_ID = 'realtime-bank';
const PAYMENT_PASSWORD = '258369';

interface Figures {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  ok: number;
}

function benchConfig(port: number): Config {
  return parseConfig({
    DATABASE_URL: DB_URL,
    FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
    BLIND_INDEX_KEY: 'ab'.repeat(32),
    PASSWORD_PEPPER: 'bench-pepper-0123456789',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    // The sandbox signs users in (wx.login codes) and receives the binding SMS, as in the embedded install.
    SANDBOX: 'true',
    SEED_DEMO: 'false',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DB_POOL_MAX: process.env.BENCH_POOL_MAX ?? '20',
  });
}



// ---------------------------------------------------------------- child: the real server and a bare Fastify

async function child(): Promise<void> {
  const port = Number(process.env.BENCH_APP_PORT);
  const config = benchConfig(port);
  // The production logger (one access line per request, redaction) into /dev/null, asynchronously.
  const log = createLogger(config.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
  const handle = openPostgres({ url: DB_URL, poolMax: config.dbPoolMax, schema: process.env.BENCH_SCHEMA!, applicationName: 'wecard-bench-balance' });
  const { ctx } = await createContext(config, { log, dbHandle: handle, migrate: false });
  // The modules of src/app/modules.ts that the route needs, with accounts, and the sandbox for sign-in.
  const app = await buildServer(ctx, { modules: [corePort(), auditJobs, riskModule, identityRoutes(), accountsRoutes(), demoRoutes, sandboxWxRoutes] });
  await app.listen({ host: '127.0.0.1', port });

  const bare = Fastify();
  bare.get('/bare', async () => ({ hello: 'world' }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ barePort: (bare.server.address() as { port: number }).port });
  process.on('disconnect', () => process.exit(0));
  // Exit through process.exit so a --cpu-prof profile is written.
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- parent: data, sessions, load, report

interface Holder {
  name: string;
  idNumber: string;
  phone: string;
  cardNumber: string;
}

/** The demo data, then USERS more customers of the bench bank, each with a funded debit card and their own phone. */
async function seed(schema: string, port: number): Promise<Holder[]> {
  const handle = openPostgres({ url: DB_URL, poolMax: 4, schema, applicationName: 'wecard-bench-balance-seed' });
  const { ctx } = await createContext(benchConfig(port), { log: createLogger('warn'), dbHandle: handle, migrate: false });
  try {
    await migrateToLatest(ctx.db);
    await seedDemo(ctx);
    const now = new Date();
    const holders: Holder[] = Array.from({ length: USERS }, (_, i) => {
      const random = seededRandom(1_000 + i);
      return {
        name: `压测用户${String.fromCharCode(0x4e00 + i)}`,
        idNumber: generateIdNumber('resident_id', random, { today: '2026-01-01' }),
        phone: `139${String(10_000_000 + i).slice(-8)}`,
        cardNumber: generateCardNumber('621483', random),
      };
    });
    const accounts: string[] = [];
    for (let i = 0; i < holders.length; i += 32) {
      const chunk = holders.slice(i, i + 32);
      const opened = await Promise.all(
        chunk.map((h) =>
          inTx(ctx.db, async (tx) => {
            const customer = await createCustomer(tx, ctx.crypto, { tenantId: TENANT_ID, name: h.name, idType: 'resident_id', idNumber: h.idNumber, phone: h.phone, now });
            return openCard(tx, ctx, { tenantId: TENANT_ID, customerId: customer.id, number: h.cardNumber, kind: 'debit', currency: 'CNY', reservedPhone: h.phone, paymentPassword: PAYMENT_PASSWORD, now });
          }),
        ),
      );
      accounts.push(...opened.map((c) => c.ledgerAccountId));
    }
    const clearing = (await findAccountByCode(ctx.db, TENANT_ID, internalAccountCode('clearing', 'CNY')))!;
    await inTx(ctx.db, (tx) =>
      transferMany(
        tx,
        accounts.map((id, i) => ({ idempotencyId: `bench-fund-${i}`, debitAccountId: clearing.id, creditAccountId: id, amountFen: BigInt(100_000 + i), kind: 'salary', description: '压测入账', counterparty: '压测单位', now })),
      ),
    );
    return holders;
  } finally {
    await handle.close();
  }
}

interface Session {
  token: string;
  deviceId: string;
  cardId: string;
}

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers ?? {}) } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Signs a new WeChat user in through the sandbox and binds the holder's card through the API (SMS code from the sandbox outbox). */
async function signInAndBind(base: string, appId: string, h: Holder, n: number): Promise<Session> {
  // Sign-ins are rate-limited per client address: each bench user comes from its own private address.
  const ip = { 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
  const user = await json(`${base}/sandbox/api/users`, { method: 'POST', body: JSON.stringify({ tenantId: TENANT_ID }) });
  const code = await json(`${base}/sandbox/api/users/${user.body.openid}/login-code`, { method: 'POST', body: JSON.stringify({ appId }) });
  const deviceId = `dev_${randomBytes(12).toString('base64url')}`;
  const session = await json(`${base}/api/v1/sessions`, { method: 'POST', body: JSON.stringify({ tenantId: TENANT_ID, code: code.body.code }), headers: { 'x-device-id': deviceId, ...ip } });
  if (session.status !== 201) throw new Error(`sign-in answered ${session.status} ${JSON.stringify(session.body)}`);
  const auth = { authorization: `Bearer ${session.body.token}`, 'x-device-id': deviceId, ...ip };
  const start = await json(`${base}/api/v1/bindings`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ cardNumber: h.cardNumber, holderName: h.name, idType: 'resident_id', idNumber: h.idNumber, phone: h.phone }),
  });
  if (start.status !== 201) throw new Error(`binding answered ${start.status} ${JSON.stringify(start.body)}`);
  const sms = await json(`${base}/sandbox/api/sms?phone=${h.phone}`);
  const confirm = await json(`${base}/api/v1/bindings/${start.body.bindingId}/confirm`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ otp: sms.body[0].code, paymentPassword: PAYMENT_PASSWORD }),
  });
  if (confirm.status !== 201) throw new Error(`binding confirmation answered ${confirm.status} ${JSON.stringify(confirm.body)}`);
  return { token: session.body.token, deviceId, cardId: confirm.body.cardId };
}

async function measure(opts: autocannon.Options, seconds: number): Promise<Figures> {
  const r = await autocannon({ ...opts, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  return { reqPerSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, ok: r['2xx'] };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function parent(): Promise<void> {
  const schema = `bench_${randomToken(6)}`;
  await admin(`create schema ${schema}`);
  const port = await freePort();
  let kid: ReturnType<typeof fork> | undefined;
  try {
    process.stdout.write(`seeding the demo data and ${USERS} bench cardholders in schema ${schema}…\n`);
    const holders = await seed(schema, port);
    kid = fork(import.meta.filename, [], {
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
      env: { ...process.env, BENCH_BALANCE_CHILD: '1', BENCH_SCHEMA: schema, BENCH_APP_PORT: String(port) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const { barePort } = await new Promise<{ barePort: number }>((resolve, reject) => {
      kid!.once('message', (m) => resolve(m as { barePort: number }));
      kid!.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    const base = `http://127.0.0.1:${port}`;

    process.stdout.write(`signing in and binding ${USERS} cardholders through the API…\n`);
    const appId = (await json(`${base}/sandbox/api/tenants/${TENANT_ID}/credentials`)).body.miniProgram.appId as string;
    const sessions: Session[] = new Array(USERS);
    let next = 0;
    await Promise.all(
      Array.from({ length: SETUP_CONCURRENCY }, async () => {
        for (let i = next++; i < USERS; i = next++) sessions[i] = await signInAndBind(base, appId, holders[i]!, i);
      }),
    );

    // Sanity: the answer is the ledger's, masked; a bad token and another user's card are refused.
    const balanceOf = (s: Session, cardId = s.cardId) => json(`${base}/api/v1/cards/${cardId}/balance`, { headers: { authorization: `Bearer ${s.token}`, 'x-device-id': s.deviceId } });
    const probe = await balanceOf(sessions[0]!);
    if (probe.status !== 200 || probe.body.available !== 100_000 || !/^\d{6}\*+\d{4}$/.test(probe.body.maskedNumber) || JSON.stringify(probe.body).includes(holders[0]!.cardNumber)) {
      throw new Error(`balance answered ${probe.status} ${JSON.stringify(probe.body)}`);
    }
    const refused = await json(`${base}/api/v1/cards/${sessions[0]!.cardId}/balance`, { headers: { authorization: 'Bearer x' } });
    const foreign = await balanceOf(sessions[1]!, sessions[0]!.cardId);
    if (refused.status !== 401 || foreign.status !== 403) throw new Error(`refusals answered ${refused.status} and ${foreign.status}`);

    let n = 0;
    const apiOpts: autocannon.Options = {
      url: base,
      requests: [
        {
          setupRequest: (req) => {
            const s = sessions[n++ % sessions.length]!;
            return { ...req, path: `/api/v1/cards/${s.cardId}/balance`, headers: { ...req.headers, authorization: `Bearer ${s.token}`, 'x-device-id': s.deviceId } };
          },
        },
      ],
    };
    const bareOpts: autocannon.Options = { url: `http://127.0.0.1:${barePort}/bare` };

    process.stdout.write(`warming up (${WARMUP_S}s each)…\n`);
    await measure(bareOpts, WARMUP_S);
    const warm = await measure(apiOpts, WARMUP_S);
    const bare: Figures[] = [];
    const api: Figures[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      bare.push(await measure(bareOpts, DURATION_S));
      api.push(await measure(apiOpts, DURATION_S));
      process.stdout.write(`round ${round}: bare ${bare.at(-1)!.reqPerSec.toFixed(0)} req/s, balance API ${api.at(-1)!.reqPerSec.toFixed(0)} req/s p99 ${api.at(-1)!.p99Ms} ms\n`);
    }

    // Nothing answered was left unrecorded: one audit entry and one quota use per 200. autocannon
    // counts only answers that arrived within a run; the requests in flight at its end (at most one
    // per connection per run) were recorded too.
    const runs = ROUNDS + 1;
    const answered = 1 + warm.ok + api.reduce((a, f) => a + f.ok, 0);
    // Both counts from one snapshot: requests still in flight when a run ended may commit between two separate reads.
    const [audited, counted] = (
      await admin(
        `select (select count(*) from ${schema}.audit_log where action = 'balance.read' and outcome = 'ok') || ',' || (select coalesce(sum(used), 0) from ${schema}.risk_quotas where tenant_id = '${TENANT_ID}' and kind = 'bound_query')`,
      )
    )
      .split(',')
      .map(Number) as [number, number];
    const recorded = audited === counted && audited >= answered && audited <= answered + CONNECTIONS * runs;

    const errors = [...bare, ...api].reduce((a, f) => a + f.errors + f.non2xx, 0);
    const bareRps = mean(bare.map((f) => f.reqPerSec));
    const apiRps = mean(api.map((f) => f.reqPerSec));
    const ratio = apiRps / bareRps;
    const p99 = Math.max(...api.map((f) => f.p99Ms));
    const pgVersion = await admin('show server_version');
    const pass = ratio >= TARGET_RATIO && p99 <= TARGET_P99_MS && errors === 0 && recorded;
    const report = [
      SECTION_INTRO,
      '',
      `- date: ${today()}`,
      `- machine: ${machine()}; PostgreSQL ${pgVersion} on the same machine`,
      `- load: autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION_S} s per endpoint after ${WARMUP_S} s warm-up, ${USERS} cardholders round-robin; server, database and load generator share the machine`,
      '',
      '| endpoint | req/s (mean) | p50 ms | p99 ms (worst round) | errors |',
      '|---|---|---|---|---|',
      `| bare Fastify \`GET /bare\` (reference, same run) | ${bareRps.toFixed(0)} | ${Math.max(...bare.map((f) => f.p50Ms))} | ${Math.max(...bare.map((f) => f.p99Ms))} | ${bare.reduce((a, f) => a + f.errors + f.non2xx, 0)} |`,
      `| wecard \`GET /api/v1/cards/{cardId}/balance\` (full API) | ${apiRps.toFixed(0)} | ${Math.max(...api.map((f) => f.p50Ms))} | ${p99} | ${api.reduce((a, f) => a + f.errors + f.non2xx, 0)} |`,
      '',
      `Answers counted by autocannon ${answered} (+ up to ${CONNECTIONS} in flight at the end of each of ${runs} runs), audit entries ${audited}, quota uses ${counted}: ${recorded ? 'every answer recorded once' : '**MISMATCH**'}.`,
      `Ratio API/bare: **${(ratio * 100).toFixed(1)} %** (target ≥ ${TARGET_RATIO * 100} %); p99 **${p99} ms** (target ≤ ${TARGET_P99_MS} ms): **${pass ? 'met' : 'NOT met'}**.`,
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    if (process.argv.includes('--write')) {
      writeSection('balance', report);
      process.stdout.write('\nwrote the balance section of bench/RESULTS.md\n');
    }
    if (!pass) process.exitCode = 1;
  } finally {
    kid?.kill();
    await admin(`drop schema if exists ${schema} cascade`);
  }
}

const SECTION_INTRO = `## Balance query through the full cardholder API (issue 5)

What is measured: \`GET /api/v1/cards/{cardId}/balance\` on the real server (\`buildServer\` with the core
port, audit, risk, identity and accounts modules; request ids, metrics, problem+json, pino request logging at
\`info\` through the redacting logger) for cardholders signed in through the sandbox and bound through the
binding API. Each request: the session (identity's hook behind a 1 s per-instance cache), the card's
ownership, state and risk freeze (identity's checks behind the same cache), the cross-border and captcha
gates, the balance from the built-in core in real time (batched ledger read), then the risk signal, the daily
quota and the audit entry, group-committed with the other requests of the moment: each answer waits for its
own commit. The reference is a bare \`Fastify()\` JSON route in the same child process.`;

if (process.env.BENCH_BALANCE_CHILD === '1') {
  child().catch((err) => {
    process.stderr.write(`bench server failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
} else {
  parent().catch((err) => {
    process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
