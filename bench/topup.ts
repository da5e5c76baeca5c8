// Top-ups credited per second from signed WeChat Pay notifications on PostgreSQL, beside pgbench's TPC-B-like tps in the same run (issue 6: goal ≥ 60 %); writes its RESULTS.md section with --write.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { parseConfig, type Config } from '../src/app/config.ts';
import { createContext } from '../src/app/bootstrap.ts';
import { createLogger } from '../src/app/logger.ts';
import { buildServer } from '../src/app/server.ts';
import { openPostgres } from '../src/db/connect.ts';
import { inTx } from '../src/db/tx.ts';
import { createCustomer, openCard } from '../src/core/index.ts';
import { seedDemo } from '../src/sandbox/demo/index.ts';
import { generateCardNumber, seededRandom } from '../src/shared/card-number.ts';
import { getCredentials } from '../src/tenants/index.ts';
import { ensureTopupAccounts, topupPaymentHandlers, topupRoutes } from '../src/topup/index.ts';
import { insertAttempt, insertOrder } from '../src/topup/store.ts';
import { payNotifications } from '../src/wechat/pay/index.ts';
import { machine, today, writeSection } from './results.ts';
import { DB_URL, admin } from './db.ts';

const TENANT = 'hz-citizen-card';
/** Clients of both measurements: pgbench -c and the notifications in flight at once. */
const CLIENTS = Number(process.env.BENCH_TOPUP_CLIENTS ?? 16);
const PGBENCH_SECONDS = 10;
/** Notifications sent during the measured window (one top-up order each), after the warm-up ones. */
const TOPUPS = Number(process.env.BENCH_TOPUPS ?? 4_000);
const WARMUP = 300;
const TARGET_RATIO = 0.6;
const AMOUNT_FEN = 10_000;
const KEYS = {
  FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
  BLIND_INDEX_KEY: 'cd'.repeat(32),
  PASSWORD_PEPPER: 'bench-topup-pepper-0123456789',
};

function benchConfig(dbUrl: string, extra: Record<string, string> = {}): Config {
  return parseConfig({ DATABASE_URL: dbUrl, ...KEYS, LOG_LEVEL: 'info', SANDBOX: 'false', SEED_DEMO: 'false', NODE_ENV: 'production', ...extra });
}

function dbUrlFor(name: string): string {
  const u = new URL(DB_URL);
  u.pathname = `/${name}`;
  return u.toString();
}


// ---- the server process ---------------------------------------------------------------------------

/** The real wecard server with the Pay notification route and the top-up handlers; jobs are not polled (the measure is the notification path). */
async function serve(): Promise<void> {
  const url = process.env.TOPUP_BENCH_DB!;
  const config = benchConfig(url, { DB_POOL_MAX: String(CLIENTS) });
  const { default: pino } = await import('pino');
  const log = createLogger(config.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
  const handle = openPostgres({ url, poolMax: CLIENTS, applicationName: 'wecard-bench-topup' });
  const { ctx } = await createContext(config, { log, dbHandle: handle, migrate: false });
  const app = await buildServer(ctx, { modules: [payNotifications(topupPaymentHandlers()), topupRoutes({ scheduleDaily: false })] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ ready: true, port: (app.server.address() as { port: number }).port });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

// ---- setup: cards and orders ----------------------------------------------------------------------

interface Placed {
  outTradeNo: string;
  orderId: string;
  openid: string;
}

/** One citizen card per top-up (each stays far under its cap) and one open order with its WeChat order. */
async function placeOrders(ctx: Awaited<ReturnType<typeof createContext>>['ctx'], n: number, appId: string): Promise<Placed[]> {
  const now = new Date();
  const random = seededRandom(20_260_318);
  const placed: Placed[] = [];
  const BATCH = 200;
  const customer = await inTx(ctx.db, (tx) => createCustomer(tx, ctx.crypto, { tenantId: TENANT, name: '压测用户', idType: 'resident_id', idNumber: '440524188001010014', phone: '13800000000', now }));
  for (let i = 0; i < n; i += BATCH) {
    await inTx(ctx.db, async (tx) => {
      for (let k = i; k < Math.min(n, i + BATCH); k++) {
        const card = await openCard(tx, ctx, {
          tenantId: TENANT,
          customerId: customer.id,
          number: generateCardNumber('623091', random),
          kind: 'citizen',
          currency: 'CNY',
          reservedPhone: '13800000000',
          citizen: { form: 'electronic', realName: true, tUnion: true },
          now,
        });
        const orderId = `tu_bench${k.toString(36).padStart(8, '0')}${randomBytes(4).toString('hex')}`;
        const outTradeNo = `TU${randomBytes(12).toString('hex')}`;
        const openid = `oBench${randomBytes(10).toString('hex')}`;
        await insertOrder(tx, {
          id: orderId,
          tenant_id: TENANT,
          user_id: 'usr_bench',
          card_id: card.id,
          card_ledger_account_id: card.ledgerAccountId,
          card_masked: card.maskedNumber,
          card_form: 'electronic',
          method: 'wechat_balance',
          amount_fen: AMOUNT_FEN,
          fee_fen: 0,
          total_fen: AMOUNT_FEN,
          currency: 'CNY',
          status: 'created',
          idempotency_key: orderId,
          request_hash: 'bench',
          expires_at: new Date(now.getTime() + 2 * 3_600_000),
          created_at: now,
          updated_at: now,
        });
        await insertAttempt(tx, {
          out_trade_no: outTradeNo,
          order_id: orderId,
          tenant_id: TENANT,
          app_kind: 'miniProgram',
          app_id: appId,
          payer_openid: openid,
          notify_url: 'http://127.0.0.1/wechat/pay/hz-citizen-card/notify',
          amount_fen: AMOUNT_FEN,
          prepay_id: `wx${randomBytes(14).toString('hex')}`,
          state: 'open',
          expires_at: new Date(now.getTime() + 15 * 60_000),
          created_at: now,
          updated_at: now,
        });
        placed.push({ outTradeNo, orderId, openid });
      }
    });
  }
  return placed;
}

interface Signed {
  body: string;
  headers: Record<string, string>;
}

/** The notification WeChat sends for a payment, signed by the platform key (wechatpay-axios-plugin, not our code). */
function notification(pay: { apiV3Key: string; mchId: string; platformPrivateKeyPem: string; platformSerialNo: string }, key: ReturnType<typeof Rsa.from>, appId: string, p: Placed): Signed {
  const nonce = Formatter.nonce(12);
  const resource = {
    appid: appId,
    mchid: pay.mchId,
    out_trade_no: p.outTradeNo,
    transaction_id: `4200${Date.now()}${randomBytes(6).readUIntBE(0, 6)}`.slice(0, 28),
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    success_time: new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 19) + '+08:00',
    payer: { openid: p.openid },
    amount: { total: AMOUNT_FEN, payer_total: AMOUNT_FEN, currency: 'CNY', payer_currency: 'CNY' },
  };
  const body = JSON.stringify({
    id: randomBytes(16).toString('hex'),
    create_time: resource.success_time,
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext: Aes.AesGcm.encrypt(JSON.stringify(resource), pay.apiV3Key, nonce, 'transaction'), associated_data: 'transaction', nonce },
  });
  const timestamp = String(Formatter.timestamp());
  const headerNonce = Formatter.nonce();
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': headerNonce,
      'wechatpay-signature': Rsa.sign(Formatter.response(timestamp, headerNonce, body), key),
      'wechatpay-serial': pay.platformSerialNo,
    },
  };
}

/**
 * Sends the notifications with `clients` in flight over kept-alive connections; answers the elapsed
 * ms and the failures. node:http rather than fetch: the load generator shares the machine's cores
 * with the server and PostgreSQL (as pgbench's C client does with PostgreSQL), and fetch costs
 * several times more CPU per request.
 */
async function blast(port: number, items: Signed[], clients: number): Promise<{ ms: number; failed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const post = (item: Signed) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: 'POST', path: `/wechat/pay/${TENANT}/notify`, agent, headers: { ...item.headers, 'content-length': Buffer.byteLength(item.body) } },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        },
      );
      req.once('error', reject);
      req.end(item.body);
    });
  let next = 0;
  let failed = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = next++; i < items.length; i = next++) {
          if ((await post(items[i]!)) !== 204) failed++;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  const ms = performance.now() - started;
  return { ms, failed };
}

function pgbench(dbName: string): { tps: number; version: string } {
  const u = new URL(dbUrlFor(dbName));
  const env = { ...process.env, PGHOST: u.hostname, PGPORT: u.port || '5432', PGUSER: decodeURIComponent(u.username || 'postgres'), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: dbName };
  execFileSync('pgbench', ['-i', '-q'], { env, stdio: 'pipe' });
  const out = execFileSync('pgbench', ['-c', String(CLIENTS), '-j', '2', '-T', String(PGBENCH_SECONDS)], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out);
  if (!m) throw new Error(`pgbench output not understood:\n${out}`);
  return { tps: Number(m[1]), version: execFileSync('pgbench', ['--version'], { encoding: 'utf8' }).trim() };
}

async function main(): Promise<void> {
  const suffix = randomBytes(4).toString('hex');
  const wecardDb = `wecard_bench_topup_${suffix}`;
  const pgbenchDb = `wecard_bench_pgbench_${suffix}`;
  let server: ChildProcess | undefined;
  await admin(`create database ${wecardDb}`);
  await admin(`create database ${pgbenchDb}`);
  try {
    const url = dbUrlFor(wecardDb);
    process.stdout.write(`seeding the demo tenants and ${TOPUPS + WARMUP} top-up orders in ${wecardDb}…\n`);
    const log = createLogger('warn');
    const handle = openPostgres({ url, poolMax: 4, applicationName: 'wecard-bench-topup-setup' });
    const { ctx } = await createContext(benchConfig(url), { log, dbHandle: handle, migrate: true });
    await seedDemo(ctx);
    await ensureTopupAccounts(ctx, TENANT);
    const creds = (await getCredentials(ctx.db, ctx.crypto, TENANT))!;
    const pay = creds.pay! as { apiV3Key: string; mchId: string; platformPrivateKeyPem: string; platformSerialNo: string };
    const appId = creds.miniProgram!.appId;
    const placed = await placeOrders(ctx, TOPUPS + WARMUP, appId);
    const vc = new pg.Client({ connectionString: url });
    await vc.connect();
    const version = String((await vc.query('select version() as v')).rows[0].v).split(',')[0];
    await vc.end();

    server = fork(import.meta.filename, [], { env: { ...process.env, TOPUP_BENCH_CHILD: '1', TOPUP_BENCH_DB: url }, execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      server!.once('message', (m: { port: number }) => resolve(m.port));
      server!.once('exit', (code) => reject(new Error(`bench server exited ${code}`)));
    });

    const key = Rsa.from(pay.platformPrivateKeyPem, Rsa.KEY_TYPE_PRIVATE);
    // Signed in advance (the platform's cost, not ours); within the 5-minute window of the check.
    const warm = placed.slice(0, WARMUP).map((p) => notification(pay, key, appId, p));
    const measured = placed.slice(WARMUP).map((p) => notification(pay, key, appId, p));
    process.stdout.write(`warming up with ${WARMUP} notifications…\n`);
    await blast(port, warm, CLIENTS);
    process.stdout.write(`sending ${TOPUPS} signed notifications with ${CLIENTS} in flight…\n`);
    const run = await blast(port, measured, CLIENTS);
    process.stdout.write(`${TOPUPS} notifications answered in ${run.ms.toFixed(0)} ms (${((TOPUPS / run.ms) * 1000).toFixed(0)}/s), ${run.failed} refused\n`);
    const credited = await ctx.db
      .selectFrom('topup_orders')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('id', 'in', placed.slice(WARMUP).map((p) => p.orderId))
      .where('status', 'in', ['completed', 'settling', 'credited'])
      .executeTakeFirstOrThrow();
    const creditedCount = Number(credited.n);
    if (creditedCount !== TOPUPS || run.failed > 0) throw new Error(`${creditedCount} of ${TOPUPS} top-ups credited, ${run.failed} notifications refused`);
    const perSecond = (TOPUPS / run.ms) * 1000;
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
    await handle.close();

    process.stdout.write(`pgbench TPC-B-like, ${CLIENTS} clients, ${PGBENCH_SECONDS} s…\n`);
    const ref = pgbench(pgbenchDb);
    const ratio = perSecond / ref.tps;
    const pass = ratio >= TARGET_RATIO;
    const report = `## Top-ups credited from signed notifications (issue 6)

What is measured: \`POST /wechat/pay/{tenantId}/notify\` on the real server (a child process, \`buildServer\`, production logger into /dev/null, jobs not polled) with WeChat Pay notifications signed by the platform key and AES-GCM encrypted (wechatpay-axios-plugin, signed before the clock starts): signature check over the raw body, decryption, then the de-duplication record and the top-up handler group-committed with the other notifications of the moment (one transaction for the batch, two in flight: orders with their attempts locked in one statement, amount/app checked, cards locked and the PBOC cap checked with the batch's earlier credits counted, then the attempts, orders, history lines and outbox rows written in one statement and the double-entry credits customer-funds → card booked in one; each notification answered after its commit). ${TOPUPS} orders on as many electronic citizen cards, ${CLIENTS} notifications in flight (the load generator posts over kept-alive \`node:http\` connections), after ${WARMUP} for warm-up; every order checked credited afterwards. The reference is pgbench's built-in TPC-B-like script (scale 1) with the same number of clients (\`pgbench -c ${CLIENTS} -j 2 -T ${PGBENCH_SECONDS}\`) on a scratch database of the same server, in the same run.

- date: ${today()}
- machine: ${machine()}; ${version} on the same machine; ${ref.version}

| measurement | per second |
|---|---|
| pgbench TPC-B-like tps (reference, same run) | ${ref.tps.toFixed(0)} |
| top-ups credited from signed notifications | ${perSecond.toFixed(0)} |

Ratio top-ups/pgbench: **${(ratio * 100).toFixed(1)} %** (target ≥ ${TARGET_RATIO * 100} %): **${pass ? 'met' : 'missed'}**.`;
    process.stdout.write(`\n${report}\n`);
    if (process.argv.includes('--write')) {
      writeSection('topup', report);
      process.stdout.write('\nwrote the topup section of bench/RESULTS.md\n');
    }
    if (!pass) process.exitCode = 1;
  } finally {
    if (server && server.exitCode === null) server.kill('SIGTERM');
    await admin(`drop database if exists ${wecardDb} with (force)`).catch(() => undefined);
    await admin(`drop database if exists ${pgbenchDb} with (force)`).catch(() => undefined);
  }
}

if (process.env.TOPUP_BENCH_CHILD === '1') {
  serve().catch((err) => {
    process.stderr.write(`bench server failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
