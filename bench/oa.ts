// OA safe-mode round trip: wecard's real endpoint (PostgreSQL dedup) vs node-webot's `wechat` middleware on a bare http server, same run; writes its RESULTS.md section with --write.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createHash, randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import pg from 'pg';
import * as wecomCrypto from '@wecom/crypto';
import { parseConfig } from '../src/app/config.ts';
import { createContext } from '../src/app/bootstrap.ts';
import { buildServer } from '../src/app/server.ts';
import { openPostgres } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { inTx } from '../src/db/tx.ts';
import { createTenant, type OaCredentials } from '../src/tenants/index.ts';
import { HELP_TEXT, oaServer } from '../src/wechat/oa/index.ts';
import { randomToken } from '../src/shared/ids.ts';
import { machine, today, writeSection } from './results.ts';
import { DB_URL, admin } from './db.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '64');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? '10');
const WARMUP_S = 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
const ONLY = process.env.BENCH_OA_ONLY;
/** Issue 3: wecard's endpoint, dedup included, at least twice node-webot's throughput. */
const TARGET_RATIO = 2;
const TENANT_ID = 'bench-oa';
/** wecard's pool names itself so its backends' CPU can be told from other clients of the database. */
const APP_NAME = 'wecard-bench-oa';
/** Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_S = 100;
/** Pushes prepared for a warm-up, before any rate is known. */
const WARMUP_POOL_RPS = 10_000;

/** Fixed, published-nowhere bench credentials (the same for both servers). */
const OA: OaCredentials = {
  appId: 'wx5e2f0c1a9b8d7e6f',
  appSecret: '0123456789abcdef0123456789abcdef',
  token: 'benchToken0123456789',
  encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  mode: 'safe',
  originalId: 'gh_0123456789ab',
};

interface Figures {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  completed: number;
  /** CPU of the server process per answered request (both servers share it; only one is under load at a time). */
  serverCpuUs: number;
  /** CPU of wecard's own PostgreSQL connections per answered request (0 for node-webot). */
  pgCpuUs: number;
}


// ---------------------------------------------------------------- child: both servers

async function child(): Promise<void> {
  const schema = process.env.BENCH_SCHEMA!;
  const poolMax = Number(process.env.BENCH_POOL_MAX ?? '20');
  const config = parseConfig({
    DATABASE_URL: DB_URL,
    FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
    BLIND_INDEX_KEY: 'ab'.repeat(32),
    PASSWORD_PEPPER: 'bench-pepper-0123456789',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    SANDBOX: 'false',
    DB_POOL_MAX: String(poolMax),
  });
  const { createLogger } = await import('../src/app/logger.ts');
  const { default: pino } = await import('pino');
  // The production logger (one access line per request, redaction) into /dev/null, asynchronously.
  const log = createLogger(config.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
  const handle = openPostgres({ url: DB_URL, poolMax, schema, applicationName: APP_NAME });
  const { ctx } = await createContext(config, { log, dbHandle: handle, migrate: false });
  const app = await buildServer(ctx, { modules: [oaServer()] });
  await app.listen({ host: '127.0.0.1', port: 0 });

  // node-webot's middleware, as its README mounts it, on a bare http server; it answers every text with the same help text.
  const require = createRequire(import.meta.url);
  const wechat = require('wechat') as (config: unknown, handler: (req: unknown, res: { reply(content: string): void }) => void) => (req: unknown, res: unknown, next: (err?: unknown) => void) => void;
  const middleware = wechat({ token: OA.token, appid: OA.appId, encodingAESKey: OA.encodingAESKey, checkSignature: true }, (_req, res) => res.reply(HELP_TEXT));
  const bare = createServer((req, res) => {
    const q = req.url!.indexOf('?');
    (req as unknown as { query: Record<string, string> }).query = Object.fromEntries(new URLSearchParams(q === -1 ? '' : req.url!.slice(q + 1)));
    middleware(req, res, () => {
      res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));

  const port = (s: { address(): unknown }) => (s.address() as { port: number }).port;
  process.on('message', (m) => {
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
  process.send!({ appPort: port(app.server), barePort: port(bare) });
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- parent: load and report

const sha1Sorted = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');
let msgSeq = 0n;
const MSG_ID_BASE = BigInt(Date.now()) * 1_000_000n;

/** A push as WeChat sends it in safe mode, encrypted and signed by @wecom/crypto, with a fresh MsgId. */
function freshPush(): { path: string; body: string } {
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = String(randomInt(1e9));
  msgSeq += 1n;
  const inner = `<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><FromUserName><![CDATA[oBenchUser000000000000000001]]></FromUserName><CreateTime>${ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>${MSG_ID_BASE + msgSeq}</MsgId></xml>`;
  const encrypt = wecomCrypto.encrypt(OA.encodingAESKey, inner, OA.appId);
  const q = new URLSearchParams({
    signature: sha1Sorted(OA.token, ts, nonce),
    timestamp: ts,
    nonce,
    openid: 'oBenchUser000000000000000001',
    encrypt_type: 'aes',
    msg_signature: wecomCrypto.getSignature(OA.token, ts, nonce, encrypt),
  });
  return { path: `/wechat/oa/${TENANT_ID}?${q}`, body: `<xml><ToUserName><![CDATA[${OA.originalId}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>` };
}

function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([^<]*))</${name}>`).exec(xml);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** The reply's Content after verifying MsgSignature and decrypting with @wecom/crypto. */
function replyContent(body: string): string | undefined {
  const encrypt = element(body, 'Encrypt');
  if (!encrypt || wecomCrypto.getSignature(OA.token, element(body, 'TimeStamp')!, element(body, 'Nonce')!, encrypt) !== element(body, 'MsgSignature')) return undefined;
  return element(wecomCrypto.decrypt(OA.encodingAESKey, encrypt).message, 'Content');
}

async function once(port: number, push: { path: string; body: string }): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${push.path}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: push.body });
  return { status: r.status, text: await r.text() };
}

/** Pushes prepared before a measurement, so the load generator spends its time sending, not encrypting. */
const POOL_HEADROOM = 1.5;
const POOL_MAX = 400_000;

function preparePool(expectedRps: number, seconds: number): { path: string; body: string }[] {
  const n = Math.min(POOL_MAX, Math.ceil(expectedRps * seconds * POOL_HEADROOM) + CONNECTIONS);
  return Array.from({ length: n }, freshPush);
}

/** User + system CPU of the server process, in µs. */
function serverCpu(kid: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      const cpu = (m as { cpu?: { user: number; system: number } }).cpu;
      if (!cpu) return;
      kid.off('message', on);
      resolve(cpu.user + cpu.system);
    };
    kid.on('message', on);
    kid.send('cpu');
  });
}

/** CPU (µs) of the PostgreSQL backends serving wecard's pool, read from /proc (the database runs on this machine). */
async function pgCpu(): Promise<number> {
  const c = new pg.Client({ connectionString: DB_URL });
  await c.connect();
  let pids: string[];
  try {
    pids = (await c.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = $1`, [APP_NAME])).rows.map((r) => String(r.pid));
  } finally {
    await c.end();
  }
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // A backend that ended meanwhile; its time is lost, which only understates.
    }
  }
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_S;
}

async function measure(kid: ChildProcess, port: number, seconds: number, expectedRps: number): Promise<Figures> {
  const pool = preparePool(expectedRps, seconds);
  let next = 0;
  const cpu0 = await serverCpu(kid);
  const pg0 = await pgCpu();
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    pipelining: 1,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        setupRequest: (req) => {
          // Every request a push never sent before: past the pool, new ones are made on the spot.
          const p = next < pool.length ? pool[next++]! : freshPush();
          return { ...req, path: p.path, body: p.body };
        },
      },
    ],
  });
  const answered = Math.max(1, r['2xx']);
  const serverCpuUs = ((await serverCpu(kid)) - cpu0) / answered;
  const pgCpuUs = ((await pgCpu()) - pg0) / answered;
  return { reqPerSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, completed: r['2xx'], serverCpuUs, pgCpuUs };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function parent(): Promise<void> {
  const schema = `bench_${randomToken(6)}`;
  const loadStart = loadavg()[0]!.toFixed(2);
  await admin(`create schema ${schema}`);
  const h = openPostgres({ url: DB_URL, poolMax: 2, schema, applicationName: 'wecard-bench-oa-seed' });
  const kid = fork(import.meta.filename, [], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, BENCH_OA_CHILD: '1', BENCH_SCHEMA: schema },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await migrateToLatest(h.db);
    const { parseConfig: pc } = await import('../src/app/config.ts');
    const { resolveKeys } = await import('../src/app/bootstrap.ts');
    const { createLogger } = await import('../src/app/logger.ts');
    const { crypto } = resolveKeys(pc({ FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f', BLIND_INDEX_KEY: 'ab'.repeat(32), PASSWORD_PEPPER: 'bench-pepper-0123456789', DATABASE_URL: DB_URL, SANDBOX: 'false' }), createLogger('silent'));
    await inTx(h.db, (tx) => createTenant(tx, crypto, { id: TENANT_ID, name: 'OA bench', kind: 'bank', preset: 'agricultural', credentials: { oa: OA }, now: new Date() }));

    const ports = await new Promise<{ appPort: number; barePort: number }>((resolve, reject) => {
      kid.once('message', (m) => resolve(m as { appPort: number; barePort: number }));
      kid.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });

    // Sanity: both answer the help text, encrypted; wecard answers a retry with the same reply and refuses a bad signature.
    const probe = freshPush();
    const a = await once(ports.appPort, probe);
    const b = await once(ports.barePort, freshPush());
    if (replyContent(a.text) !== HELP_TEXT) throw new Error(`wecard answered ${a.status} ${a.text.slice(0, 200)}`);
    if (replyContent(b.text) !== HELP_TEXT) throw new Error(`node-webot answered ${b.status} ${b.text.slice(0, 200)}`);
    const retry = await once(ports.appPort, probe);
    if (replyContent(retry.text) !== HELP_TEXT) throw new Error('wecard did not answer a retry with the stored reply');
    const forged = await once(ports.appPort, { ...probe, path: probe.path.replace(/signature=[0-9a-f]{40}/, `signature=${'0'.repeat(40)}`) });
    if (forged.status !== 401) throw new Error(`a forged signature was not refused (${forged.status})`);
    const rowsBefore = Number(await admin(`select count(*) from ${schema}.oa_messages`));

    process.stdout.write(`warming up (${WARMUP_S}s each)…\n`);
    const warmWebot = await measure(kid, ports.barePort, WARMUP_S, WARMUP_POOL_RPS);
    const warm = await measure(kid, ports.appPort, WARMUP_S, WARMUP_POOL_RPS);
    const webot: Figures[] = [];
    const wecard: Figures[] = [];
    const loads: number[] = [];
    if (ONLY) {
      // Profiling aid (BENCH_OA_ONLY=wecard|webot, with BENCH_CPU_PROF): one server under load, no ratio.
      const f = await measure(kid, ONLY === 'webot' ? ports.barePort : ports.appPort, DURATION_S, Math.max(warm.reqPerSec, warmWebot.reqPerSec));
      process.stdout.write(`${ONLY}: ${f.reqPerSec.toFixed(0)} req/s p99 ${f.p99Ms} ms (${f.serverCpuUs.toFixed(0)} µs server + ${f.pgCpuUs.toFixed(0)} µs PostgreSQL CPU/req)\n`);
      return;
    }
    for (let round = 1; round <= ROUNDS; round++) {
      // The machine's other load drifts: alternate which server goes first, so neither always gets the quieter half.
      const measureWebot = async () => webot.push(await measure(kid, ports.barePort, DURATION_S, Math.max(warmWebot.reqPerSec, ...webot.map((f) => f.reqPerSec))));
      const measureWecard = async () => wecard.push(await measure(kid, ports.appPort, DURATION_S, Math.max(warm.reqPerSec, ...wecard.map((f) => f.reqPerSec))));
      if (round % 2 === 1) {
        await measureWebot();
        await measureWecard();
      } else {
        await measureWecard();
        await measureWebot();
      }
      loads.push(loadavg()[0]!);
      const [w, c] = [webot.at(-1)!, wecard.at(-1)!];
      process.stdout.write(
        `round ${round}: node-webot ${w.reqPerSec.toFixed(0)} req/s (${w.serverCpuUs.toFixed(0)} µs CPU/req), wecard ${c.reqPerSec.toFixed(0)} req/s p99 ${c.p99Ms} ms (${c.serverCpuUs.toFixed(0)} µs server + ${c.pgCpuUs.toFixed(0)} µs PostgreSQL CPU/req), ratio ${(c.reqPerSec / w.reqPerSec).toFixed(2)}, load ${loads.at(-1)!.toFixed(1)}\n`,
      );
    }
    // Dedup was exercised honestly: every answered push left its own claim row.
    const rows = Number(await admin(`select count(*) from ${schema}.oa_messages`)) - rowsBefore;
    const answered = warm.completed + wecard.reduce((s, f) => s + f.completed, 0);
    const errors = [...webot, ...wecard].reduce((s, f) => s + f.errors + f.non2xx, 0);
    const webotRps = mean(webot.map((f) => f.reqPerSec));
    const wecardRps = mean(wecard.map((f) => f.reqPerSec));
    // Two readings of the same rounds: the ratio of the mean rates, and the median of the ratios of
    // rounds measured back to back (less swayed by one round that other work on the machine spoiled).
    // The target must hold for both.
    const ratioOfMeans = wecardRps / webotRps;
    const pairedMedian = median(wecard.map((c, i) => c.reqPerSec / webot[i]!.reqPerSec));
    const ratio = Math.min(ratioOfMeans, pairedMedian);
    const cpuRatio = mean(webot.map((f) => f.serverCpuUs)) / mean(wecard.map((f) => f.serverCpuUs + f.pgCpuUs));
    const pass = ratio >= TARGET_RATIO && errors === 0 && rows >= answered;
    const pgVersion = await admin('show server_version');
    const row = (name: string, fs: Figures[], withPg: boolean) =>
      `| ${name} | ${mean(fs.map((f) => f.reqPerSec)).toFixed(0)} | ${Math.max(...fs.map((f) => f.p50Ms))} | ${Math.max(...fs.map((f) => f.p99Ms))} | ${mean(fs.map((f) => f.serverCpuUs)).toFixed(0)} | ${withPg ? mean(fs.map((f) => f.pgCpuUs)).toFixed(0) : '–'} | ${fs.reduce((s, f) => s + f.errors + f.non2xx, 0)} |`;
    const roundRows = webot.map(
      (w, i) => `| ${i + 1} | ${i % 2 === 0 ? 'node-webot' : 'wecard'} | ${w.reqPerSec.toFixed(0)} | ${wecard[i]!.reqPerSec.toFixed(0)} | ${(wecard[i]!.reqPerSec / w.reqPerSec).toFixed(2)} | ${loads[i]!.toFixed(1)} |`,
    );
    const report = [
      SECTION_INTRO,
      '',
      `- date: ${today()}`,
      `- machine: ${machine()}; PostgreSQL ${pgVersion} on the same machine`,
      `- load: autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION_S} s per server after ${WARMUP_S} s warm-up, the two servers measured back to back in each round, in alternating order; every request a fresh MsgId, encrypted and signed by @wecom/crypto in the load generator before each measurement (never replayed); server, database and load generator share the machine`,
      '',
      `- machine load (1-minute average) at the start: ${loadStart}, at the end: ${loadavg()[0]!.toFixed(2)} (other work on the machine shares its 2 cores)`,
      '',
      '| server | req/s (mean) | p50 ms (worst round) | p99 ms (worst round) | server CPU µs/request | PostgreSQL CPU µs/request | errors |',
      '|---|---|---|---|---|---|---|',
      row('node-webot `wechat` 2.1 middleware, bare `http` server (reference, same run)', webot, false),
      row('wecard `POST /wechat/oa/{tenantId}` (signatures, timestamp window, decrypt, parse, PostgreSQL dedup, reply, encrypt, request logging)', wecard, true),
      '',
      `Claims written during the wecard runs: ${rows} for ${answered} answered pushes (one per push: dedup ran on every request).`,
      '',
      '| round | measured first | node-webot req/s | wecard req/s | ratio | load after |',
      '|---|---|---|---|---|---|',
      ...roundRows,
      '',
      `CPU per answered request, node-webot's server process over wecard's server process plus its PostgreSQL backends: ${cpuRatio.toFixed(2)} ×.`,
      '',
      `Ratio wecard / node-webot: **${ratio.toFixed(2)} ×** (the lower of ${ratioOfMeans.toFixed(2)} × from the mean rates and ${pairedMedian.toFixed(2)} × as the median of the rounds; target ≥ ${TARGET_RATIO} ×): **${pass ? 'met' : 'NOT met'}**.`,
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    if (process.argv.includes('--write')) {
      writeSection('oa', report);
      process.stdout.write('\nwrote the oa section of bench/RESULTS.md\n');
    }
    if (!pass) process.exitCode = 1;
  } finally {
    kid.kill();
    await h.close();
    await admin(`drop schema if exists ${schema} cascade`);
  }
}

const SECTION_INTRO = `## Official Account safe-mode round trip (issue 3)

What is measured: a safe-mode (AES) text push answered with an encrypted passive reply. wecard runs
its real server (\`buildServer\` with \`oaServer()\`: request ids, metrics, problem+json, pino access
logging at \`info\` into /dev/null) on PostgreSQL (\`DB_POOL_MAX\` 20): URL signature and
msg_signature checks, timestamp window, AES decrypt, XML parse, a de-duplication claim before the
handler and the reply recorded after it (the claims and outcomes of concurrent pushes share one
statement, \`insert … on conflict do nothing\` / \`update … from unnest\`), the default handler,
reply XML, AES encrypt and signature. The reference is node-webot's \`wechat\` middleware (same
token, key and app id) on a bare Node \`http\` server in the same child process, answering the same
text; it keeps no state, so it does no de-duplication. CPU per request is measured on the server
process (and on the PostgreSQL backends of wecard's pool), which stays meaningful when other work
shares the machine; req/s does not.`;

if (process.env.BENCH_OA_CHILD === '1') {
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
