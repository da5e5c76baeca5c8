// Shared by bench/load.ts and bench/sync.ts: a fresh schema, the WeChat platform (sandbox) and wecard instances as child processes, an SMS gateway, sign-in and binding through the API.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import Fastify from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { parseConfig, type Config } from '../src/app/config.ts';
import { createContext } from '../src/app/bootstrap.ts';
import type { AppContext } from '../src/app/context.ts';
import { createLogger } from '../src/app/logger.ts';
import { modulesFor } from '../src/app/modules.ts';
import { buildServer } from '../src/app/server.ts';
import { openPostgres } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { inTx } from '../src/db/tx.ts';
import { createCustomer, openCard } from '../src/core/index.ts';
import { findAccountByCode, transferMany } from '../src/ledger/index.ts';
import { demoRoutes, internalAccountCode, seedDemo } from '../src/sandbox/demo/index.ts';
import { sandboxPayRoutes } from '../src/sandbox/pay/index.ts';
import { sandboxWxRoutes } from '../src/sandbox/wx/index.ts';
import { generateCardNumber, seededRandom } from '../src/shared/card-number.ts';
import { generateIdNumber } from '../src/shared/id-document.ts';
import { randomToken } from '../src/shared/ids.ts';
import { DB_URL, admin, freePort } from './db.ts';

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/14';
/** As src/main.ts polls for background jobs. */
const JOB_POLL_INTERVAL_MS = 1_000;
const SMS_TOKEN = 'bench-sms-gateway-token-0123456789';
const KEYS = {
  FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
  BLIND_INDEX_KEY: 'ef'.repeat(32),
  PASSWORD_PEPPER: 'bench-cluster-pepper-0123456789',
};
export const PAYMENT_PASSWORD = '258369';

// ---------------------------------------------------------------- database and ports



function config(env: Record<string, string>): Config {
  return parseConfig({ DATABASE_URL: DB_URL, ...KEYS, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', SEED_DEMO: 'false', ...env });
}

export interface BenchDb {
  schema: string;
  /** A context on the schema for seeding and checks from the bench process (not a server). */
  ctx: AppContext;
  close(): Promise<void>;
}

/** A new schema, migrated, with the demo tenants (credentials, internal accounts, demo cardholders). */
export async function freshSchema(name: string): Promise<BenchDb> {
  const schema = `bench_${name}_${randomToken(6).toLowerCase()}`;
  await admin(`create schema ${schema}`);
  const handle = openPostgres({ url: DB_URL, poolMax: 8, schema, applicationName: `wecard-bench-${name}-setup` });
  const { ctx } = await createContext(config({ SANDBOX: 'false', NODE_ENV: 'production' }), { log: createLogger('warn'), dbHandle: handle, migrate: false });
  await migrateToLatest(ctx.db);
  await seedDemo(ctx);
  return {
    schema,
    ctx,
    close: async () => {
      await handle.close();
      await admin(`drop schema if exists ${schema} cascade`);
    },
  };
}

// ---------------------------------------------------------------- cardholders

export interface Holder {
  tenantId: string;
  name: string;
  idNumber: string;
  phone: string;
  cardNumber: string;
  ledgerAccountId: string;
}

/** Per run, so rate limits and throttles kept in Redis by an earlier run never meet the same phone or address. */
const RUN_SALT = randomBytes(3).readUIntBE(0, 3);
let serial = 0;

/** A mainland mobile number of this run, never the same twice. */
function nextPhone(): string {
  const n = (RUN_SALT * 4_096 + serial++) % 100_000_000;
  return `13${5 + (serial % 4)}${String(n).padStart(8, '0')}`;
}

/** A private client address of this run (sign-ins are rate-limited per address, as from behind a proxy). */
export function nextAddress(): string {
  const n = (RUN_SALT + serial++) % 2 ** 24;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * `count` customers of `tenantId`, each with one card of its own phone: debit cards funded from the
 * tenant's clearing account with `history` transfers (the last `history` statement lines), or
 * electronic registered citizen cards. A payment password only when the card is to be bound.
 */
export async function seedHolders(ctx: AppContext, o: { tenantId: string; count: number; kind: 'debit' | 'citizen'; history?: number; bindable: boolean }): Promise<Holder[]> {
  const now = new Date();
  const out: Holder[] = [];
  for (let i = 0; i < o.count; i += 32) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(32, o.count - i) }, async () => {
        const seed = RUN_SALT * 1_000 + serial++;
        const random = seededRandom(seed);
        const h = {
          tenantId: o.tenantId,
          name: `压测用户${String.fromCharCode(0x4e00 + (seed % 20_000))}`,
          idNumber: generateIdNumber('resident_id', random, { today: '2026-01-01' }),
          phone: nextPhone(),
          cardNumber: generateCardNumber(o.kind === 'citizen' ? '623091' : '621483', random),
        };
        const card = await inTx(ctx.db, async (tx) => {
          const customer = await createCustomer(tx, ctx.crypto, { tenantId: o.tenantId, name: h.name, idType: 'resident_id', idNumber: h.idNumber, phone: h.phone, now });
          return openCard(tx, ctx, {
            tenantId: o.tenantId,
            customerId: customer.id,
            number: h.cardNumber,
            kind: o.kind,
            currency: 'CNY',
            reservedPhone: h.phone,
            ...(o.bindable ? { paymentPassword: PAYMENT_PASSWORD } : {}),
            ...(o.kind === 'citizen' ? { citizen: { form: 'electronic' as const, realName: true, tUnion: true } } : {}),
            now,
          });
        });
        return { ...h, ledgerAccountId: card.ledgerAccountId };
      }),
    );
    out.push(...chunk);
  }
  const history = o.history ?? 0;
  if (o.kind === 'debit' && history > 0) {
    const clearing = (await findAccountByCode(ctx.db, o.tenantId, internalAccountCode('clearing', 'CNY')))!;
    const t0 = now.getTime() - history * 60_000;
    for (let i = 0; i < out.length; i += 64) {
      const transfers = out.slice(i, i + 64).flatMap((h, j) =>
        Array.from({ length: history }, (_, k) => ({
          idempotencyId: `bench-${randomToken(10)}`,
          debitAccountId: clearing.id,
          creditAccountId: h.ledgerAccountId,
          amountFen: BigInt(k === 0 ? 100_000 : 100 + ((i + j + k) % 900)),
          kind: k === 0 ? 'salary' : 'deposit',
          description: k === 0 ? '压测工资' : '压测入账',
          counterparty: '压测单位',
          now: new Date(t0 + k * 60_000),
        })),
      );
      await inTx(ctx.db, (tx) => transferMany(tx, transfers));
    }
  }
  return out;
}

// ---------------------------------------------------------------- HTTP helpers

export interface Answer {
  status: number;
  body: any;
}

export async function call(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...(init.headers ?? {}) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

function expectStatus(what: string, a: Answer, status: number): void {
  if (a.status !== status) throw new Error(`${what} answered ${a.status} ${JSON.stringify(a.body)}`);
}

// ---------------------------------------------------------------- the SMS gateway

/**
 * The SMS provider the instances POST to (SMS_PROVIDER_URL, JSON + bearer): keeps the texts by
 * phone so the bench can read the one-time codes, as the cardholder reads them on the phone.
 */
export class SmsGateway {
  readonly #texts = new Map<string, { text: string; at: number }[]>();
  #server: Server | undefined;
  url = '';
  received = 0;

  async start(): Promise<void> {
    this.#server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.headers.authorization !== `Bearer ${SMS_TOKEN}`) {
          res.writeHead(401).end();
          return;
        }
        const { phone, text } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { phone: string; text: string };
        const list = this.#texts.get(phone) ?? [];
        list.push({ text, at: Date.now() });
        // Only the newest few matter; a phone gets a code a minute at most.
        if (list.length > 4) list.shift();
        this.#texts.set(phone, list);
        this.received++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    this.#server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as { port: number }).port}/sms`;
  }

  /** The code of the newest text to `phone` sent at or after `since` (ms epoch). The API answers after the gateway took the text, so it is there already. */
  codeFor(phone: string, since: number): string {
    const last = this.#texts.get(phone)?.at(-1);
    const m = last && last.at >= since - 5 ? /验证码 (\d{4,8})/.exec(last.text) : null;
    if (!m) throw new Error(`no code texted to the phone since ${new Date(since).toISOString()}`);
    return m[1]!;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((r) => this.#server?.close(r));
  }
}

// ---------------------------------------------------------------- child processes

export interface Proc {
  role: 'platform' | 'instance';
  url: string;
  pid: number;
  /** The bare Fastify beside an instance (the reference), in the same process. */
  bareUrl?: string;
  /** The process's CPU time so far (user + system, every thread), ms. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

/** The child's CPU time via IPC (process.cpuUsage covers every thread of the process). */
function cpuOf(child: ChildProcess): () => Promise<number> {
  let seq = 0;
  return () =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      const timer = setTimeout(() => reject(new Error('child did not report its CPU time')), 30_000);
      const onMessage = (m: { cpu?: number; id?: number }) => {
        if (m.id !== id || m.cpu === undefined) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m.cpu);
      };
      child.on('message', onMessage);
      child.send({ cpu: true, id });
    });
}

async function spawn(role: Proc['role'], env: Record<string, string>): Promise<Proc> {
  const child = fork(import.meta.filename, [], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, ...env, WECARD_BENCH_ROLE: role },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ url: string; bareUrl?: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; bareUrl?: string }));
    child.once('exit', (code) => reject(new Error(`bench ${role} exited with ${code}`)));
  });
  return {
    role,
    url: ready.url,
    pid: child.pid!,
    ...(ready.bareUrl ? { bareUrl: ready.bareUrl } : {}),
    cpuMs: cpuOf(child),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The WeChat platform: the sandbox (users and login codes, token, template messages and their
 * inbox, Pay with its cashier and signed notifications) in its own process, so the instances'
 * CPU is wecard's alone. It calls `callbackUrl` back where WeChat calls the configured server.
 */
export async function startPlatform(schema: string, callbackUrl: string): Promise<Proc> {
  const port = await freePort();
  return spawn('platform', { BENCH_SCHEMA: schema, BENCH_PORT: String(port), BENCH_CALLBACK_URL: callbackUrl });
}

/**
 * One wecard instance as in production: NODE_ENV=production, no sandbox, every module of
 * src/app/modules.ts, the background jobs polled as src/main.ts polls them, Redis, the platform's
 * base URLs and the bench's SMS gateway; logs through the production logger into /dev/null.
 */
export async function startInstance(o: { schema: string; platformUrl: string; smsUrl: string; name: string; port?: number; poolMax?: number }): Promise<Proc> {
  const port = o.port ?? (await freePort());
  return spawn('instance', {
    BENCH_SCHEMA: o.schema,
    BENCH_PORT: String(port),
    BENCH_PLATFORM_URL: o.platformUrl,
    BENCH_SMS_URL: o.smsUrl,
    BENCH_APP_NAME: o.name,
    BENCH_POOL_MAX: String(o.poolMax ?? Number(process.env.BENCH_POOL_MAX ?? '20')),
  });
}

/** Application names of the instances' PostgreSQL connections start with this (for their backends' CPU). */
export const INSTANCE_APP_PREFIX = 'wecard-bench-instance';

async function childMain(role: Proc['role']): Promise<void> {
  const port = Number(process.env.BENCH_PORT);
  const url = `http://127.0.0.1:${port}`;
  const schema = process.env.BENCH_SCHEMA!;
  let cfg: Config;
  let app: Awaited<ReturnType<typeof buildServer>>;
  let bareUrl: string | undefined;
  if (role === 'platform') {
    cfg = config({ SANDBOX: 'true', PORT: String(port), PUBLIC_URL: url, SANDBOX_SERVER_URL: process.env.BENCH_CALLBACK_URL!, DB_POOL_MAX: '10' });
    const log = createLogger(cfg.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
    const handle = openPostgres({ url: DB_URL, poolMax: cfg.dbPoolMax, schema, applicationName: 'wecard-bench-platform' });
    const { ctx } = await createContext(cfg, { log, dbHandle: handle, migrate: false });
    app = await buildServer(ctx, { modules: [demoRoutes, sandboxWxRoutes, sandboxPayRoutes] });
    await app.listen({ host: '127.0.0.1', port });
    ctx.jobs.start(JOB_POLL_INTERVAL_MS);
  } else {
    const platform = process.env.BENCH_PLATFORM_URL!;
    cfg = config({
      NODE_ENV: 'production',
      SANDBOX: 'false',
      PORT: String(port),
      PUBLIC_URL: url,
      DB_POOL_MAX: process.env.BENCH_POOL_MAX ?? '20',
      REDIS_URL,
      WECHAT_API_BASE: `${platform}/sandbox/wx`,
      WECHAT_PAY_BASE: `${platform}/sandbox/pay`,
      WECOM_API_BASE: `${platform}/sandbox/wecom`,
      WECHAT_OPEN_BASE: `${platform}/sandbox/open`,
      SMS_PROVIDER_URL: process.env.BENCH_SMS_URL!,
      SMS_PROVIDER_TOKEN: SMS_TOKEN,
    });
    // The production logger (one access line per request, redaction) into /dev/null, asynchronously.
    const log = createLogger(cfg.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
    const handle = openPostgres({ url: DB_URL, poolMax: cfg.dbPoolMax, schema, applicationName: `${INSTANCE_APP_PREFIX}-${process.env.BENCH_APP_NAME}` });
    const { ctx } = await createContext(cfg, { log, dbHandle: handle, migrate: false });
    app = await buildServer(ctx, { modules: modulesFor(cfg) });
    await app.listen({ host: '127.0.0.1', port });
    ctx.jobs.start(JOB_POLL_INTERVAL_MS);
    const bare = Fastify();
    bare.get('/bare', async () => ({ hello: 'world' }));
    await bare.listen({ host: '127.0.0.1', port: 0 });
    bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`;
  }
  process.on('message', (m: { cpu?: boolean; id?: number }) => {
    if (!m.cpu) return;
    const u = process.cpuUsage();
    process.send!({ id: m.id, cpu: (u.user + u.system) / 1000 });
  });
  process.send!({ url, ...(bareUrl ? { bareUrl } : {}) });
  process.on('disconnect', () => process.exit(0));
  // Exit through process.exit so a --cpu-prof profile is written.
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- PostgreSQL backends' CPU

/** USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux the bench runs on. */
const CLOCK_TICKS = 100;

/** CPU time (ms) of the PostgreSQL backends serving the instances now (Linux /proc; undefined elsewhere). Backends that closed meanwhile are not counted. */
export async function backendCpuMs(): Promise<Map<number, number> | undefined> {
  if (!existsSync('/proc/self/stat')) return undefined;
  const c = new pg.Client({ connectionString: DB_URL });
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>(`select pid from pg_stat_activity where application_name like '${INSTANCE_APP_PREFIX}%'`);
    const out = new Map<number, number>();
    for (const { pid } of r.rows) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after "pid (comm) ".
        out.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS);
      } catch {
        /* gone, or another machine's PostgreSQL */
      }
    }
    return out;
  } finally {
    await c.end();
  }
}

/** CPU the backends used between two samples; a backend seen only in the second counts from 0. */
export function backendDelta(before: Map<number, number> | undefined, after: Map<number, number> | undefined): number | undefined {
  if (!before || !after || after.size === 0) return undefined;
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

// ---------------------------------------------------------------- sign-in and binding through the API

export interface Session {
  tenantId: string;
  token: string;
  deviceId: string;
  userId: string;
  /** The WeChat user's OA openid (template messages go there). */
  openid: string;
  /** The client address the user's requests come from (X-Forwarded-For). */
  ip: string;
  headers: Record<string, string>;
}

const appIds = new Map<string, { oa: string; miniProgram: string }>();

/** A new WeChat user of the tenant signs in through the mini-program (wx.login) or the OA's web auth. */
export async function signIn(platformUrl: string, instanceUrl: string, tenantId: string, via: 'miniProgram' | 'oa' = 'miniProgram'): Promise<Session> {
  let apps = appIds.get(tenantId);
  if (!apps) {
    const creds = await call(`${platformUrl}/sandbox/api/tenants/${tenantId}/credentials`);
    expectStatus('credentials', creds, 200);
    apps = { oa: creds.body.oa.appId, miniProgram: creds.body.miniProgram.appId };
    appIds.set(tenantId, apps);
  }
  const ip = nextAddress();
  const user = await call(`${platformUrl}/sandbox/api/users`, { body: { tenantId } });
  expectStatus('sandbox user', user, 201);
  const code = await call(`${platformUrl}/sandbox/api/users/${user.body.openid}/login-code`, { body: via === 'oa' ? { appId: apps.oa, scope: 'snsapi_base' } : { appId: apps.miniProgram } });
  expectStatus('login code', code, 200);
  const deviceId = `dev_${randomBytes(12).toString('base64url')}`;
  const session = await call(`${instanceUrl}/api/v1/sessions`, {
    body: { tenantId, code: code.body.code, ...(via === 'oa' ? { kind: 'oauth' } : {}) },
    headers: { 'x-device-id': deviceId, 'x-forwarded-for': ip },
  });
  expectStatus('sign-in', session, 201);
  const headers = { authorization: `Bearer ${session.body.token}`, 'x-device-id': deviceId, 'x-forwarded-for': ip };
  return { tenantId, token: session.body.token, deviceId, userId: session.body.user.id, openid: user.body.openid, ip, headers };
}

/** Binds the holder's card to the session through the binding API (code from the SMS gateway, payment password). */
export async function bind(instanceUrl: string, sms: SmsGateway, s: Session, h: Holder): Promise<{ cardId: string; maskedNumber: string }> {
  const since = Date.now();
  const start = await call(`${instanceUrl}/api/v1/bindings`, {
    headers: s.headers,
    body: { cardNumber: h.cardNumber, holderName: h.name, idType: 'resident_id', idNumber: h.idNumber, phone: h.phone },
  });
  expectStatus('binding', start, 201);
  const confirm = await call(`${instanceUrl}/api/v1/bindings/${start.body.bindingId}/confirm`, {
    headers: s.headers,
    body: { otp: sms.codeFor(h.phone, since), paymentPassword: PAYMENT_PASSWORD },
  });
  expectStatus('binding confirmation', confirm, 201);
  return { cardId: confirm.body.cardId, maskedNumber: confirm.body.maskedNumber };
}

/** Runs `work` over `items` with `concurrency` at once, in order of start. */
export async function eachLimited<T, R>(items: readonly T[], concurrency: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await work(items[i]!, i);
    }),
  );
  return out;
}

// ---------------------------------------------------------------- figures

/** The p-th percentile (0–100) of ascending `sorted`, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function pgVersion(): Promise<string> {
  return admin('show server_version');
}

const role = process.env.WECARD_BENCH_ROLE;
if (role === 'platform' || role === 'instance') {
  childMain(role).catch((err) => {
    process.stderr.write(`bench ${role} failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
