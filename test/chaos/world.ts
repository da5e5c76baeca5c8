// The chaos run's world: the deployment's environment, the database seeded once (demo tenants, the run's own cardholders), the runner's own context for recovery jobs and checks, and cardholders signed in and bound through the front.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/app/config.ts';
import { createContext, type RunningContext } from '../../src/app/bootstrap.ts';
import type { AppContext } from '../../src/app/context.ts';
import { createLogger } from '../../src/app/logger.ts';
import { buildServer } from '../../src/app/server.ts';
import { openPostgres } from '../../src/db/connect.ts';
import { inTx } from '../../src/db/tx.ts';
import { corePort, createCustomer, openCard } from '../../src/core/index.ts';
import { identityRoutes } from '../../src/identity/index.ts';
import { findAccountByCode, transferMany } from '../../src/ledger/index.ts';
import { internalAccountCode, seedDemo } from '../../src/sandbox/demo/index.ts';
import { sandboxPayRoutes } from '../../src/sandbox/pay/index.ts';
import { generateCardNumber, seededRandom } from '../../src/shared/card-number.ts';
import { generateIdNumber } from '../../src/shared/id-document.ts';
import { ensureTopupAccounts, topupPaymentHandlers, topupRoutes } from '../../src/topup/index.ts';
import { payNotifications } from '../../src/wechat/pay/index.ts';
import type { Front } from './front.ts';

/** Balance reads go to the demo's real-time bank with unlimited quotas: every read is counted, none refused. */
export const READ_TENANT = 'realtime-bank';
/** Top-ups go to the demo citizen-card operator (WeChat balance ¥50–2,000, free). */
export const TOPUP_TENANT = 'hz-citizen-card';
const CORE_TOKEN = 'chaos-core-token-0123456789';
const SMS_TOKEN = 'chaos-sms-token-0123456789';
const KEYS = {
  FIELD_KEYS: 'v1:0f0e0d0c0b0a09080706050403020100',
  BLIND_INDEX_KEY: 'c4'.repeat(32),
  PASSWORD_PEPPER: 'chaos-pepper-0123456789',
};
const READER_PASSWORD = '258369';
const PAYER_PASSWORD = '246813';
/** Each reader's card holds this much (far below any step-up threshold). */
const READER_FUNDS_FEN = 100_000n;
/** Client timeout of every call the run makes. */
export const CALL_TIMEOUT_MS = 10_000;

export interface Endpoints {
  databaseUrl: string;
  redisUrl: string;
  sandboxUrl: string;
  frontUrl: string;
}

/** The instances' environment: production mode on PostgreSQL, the sandbox as WeChat and as the external core, the front as public URL and SMS gateway. */
export function instanceEnv(e: Endpoints): Record<string, string> {
  const sb = `${e.sandboxUrl}/sandbox`;
  return {
    ...KEYS,
    NODE_ENV: 'production',
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    PUBLIC_URL: e.frontUrl,
    LOG_LEVEL: 'warn',
    DB_POOL_MAX: '8',
    SANDBOX: 'false',
    SEED_DEMO: 'false',
    WECHAT_API_BASE: `${sb}/wx`,
    WECHAT_PAY_BASE: `${sb}/pay`,
    WECOM_API_BASE: `${sb}/wecom`,
    WECHAT_OPEN_BASE: `${sb}/open`,
    CORE_BANKING_URL: `${sb}/core`,
    CORE_BANKING_TOKEN: CORE_TOKEN,
    SMS_PROVIDER_URL: `${e.frontUrl}/chaos/sms`,
    SMS_PROVIDER_TOKEN: SMS_TOKEN,
    SHUTDOWN_TIMEOUT_MS: '2000',
  };
}

/** The sandbox process's environment: same database and keys, calls back the deployment at the front. */
export function sandboxEnv(e: Endpoints): Record<string, string> {
  return { ...KEYS, DATABASE_URL: e.databaseUrl, LOG_LEVEL: 'warn', DB_POOL_MAX: '8', CORE_BANKING_TOKEN: CORE_TOKEN, SANDBOX_SERVER_URL: e.frontUrl };
}

export interface Runner {
  ctx: AppContext;
  close(): Promise<void>;
}

/**
 * The runner's own context on the shared database: it migrates and seeds before the instances
 * start, and afterwards runs due recovery jobs ahead of their schedule (the order query, WeChat's
 * notification retries) and the checks. It never listens: its server only registers the job handlers
 * exactly as the instances (top-ups) and the sandbox (Pay) register them.
 */
export async function openRunner(e: Endpoints, logDir: string): Promise<Runner> {
  const sb = `${e.sandboxUrl}/sandbox`;
  const config = parseConfig({
    ...KEYS,
    DATABASE_URL: e.databaseUrl,
    PUBLIC_URL: e.frontUrl,
    LOG_LEVEL: 'warn',
    SANDBOX: 'true',
    SEED_DEMO: 'false',
    NODE_ENV: 'test',
    WECHAT_API_BASE: `${sb}/wx`,
    WECHAT_PAY_BASE: `${sb}/pay`,
    WECOM_API_BASE: `${sb}/wecom`,
    WECHAT_OPEN_BASE: `${sb}/open`,
    CORE_BANKING_URL: `${sb}/core`,
    CORE_BANKING_TOKEN: CORE_TOKEN,
  });
  const log = createLogger(config.logLevel, pino.destination({ dest: path.join(logDir, 'runner.log'), sync: false }));
  const handle = openPostgres({ url: e.databaseUrl, poolMax: 4, applicationName: 'wecard-chaos-runner' });
  const running: RunningContext = await createContext(config, { log, dbHandle: handle, migrate: true });
  const app = await buildServer(running.ctx, {
    modules: [corePort(), identityRoutes(), payNotifications(topupPaymentHandlers()), topupRoutes({ scheduleDaily: false }), sandboxPayRoutes],
  });
  await app.ready();
  return {
    ctx: running.ctx,
    close: async () => {
      await app.close();
      await running.close();
    },
  };
}

export interface Person {
  tenantId: string;
  name: string;
  idNumber: string;
  phone: string;
  cardNumber: string;
  paymentPassword: string;
  ledgerAccountId: string;
}

/** The demo data, then `readers` funded debit cardholders of the real-time bank and `payers` registered citizen-card holders with empty cards. */
export async function seedWorld(ctx: AppContext, o: { readers: number; payers: number; seed: number }): Promise<{ readers: Person[]; payers: Person[] }> {
  await seedDemo(ctx);
  await ensureTopupAccounts(ctx, TOPUP_TENANT);
  const random = seededRandom(o.seed);
  const now = new Date();
  const make = async (tenantId: string, n: number, phonePrefix: string, citizen: boolean): Promise<Person[]> =>
    inTx(ctx.db, async (tx) => {
      const out: Person[] = [];
      for (let i = 0; i < n; i++) {
        const p = {
          tenantId,
          name: `混沌${citizen ? '付' : '读'}${'甲乙丙丁戊己庚辛壬癸'[i % 10]}${'子丑寅卯辰巳午未申酉戌亥'[Math.floor(i / 10) % 12]}`,
          idNumber: generateIdNumber('resident_id', random, { today: now }),
          phone: `${phonePrefix}${String(i).padStart(4, '0')}`,
          cardNumber: generateCardNumber(citizen ? '623091' : '621483', random),
          paymentPassword: citizen ? PAYER_PASSWORD : READER_PASSWORD,
        };
        const customer = await createCustomer(tx, ctx.crypto, { tenantId, name: p.name, idType: 'resident_id', idNumber: p.idNumber, phone: p.phone, now });
        const card = citizen
          ? await openCard(tx, ctx, { tenantId, customerId: customer.id, number: p.cardNumber, kind: 'citizen', currency: 'CNY', reservedPhone: p.phone, citizen: { form: i % 2 === 0 ? 'electronic' : 'physical', realName: true, tUnion: true }, now })
          : await openCard(tx, ctx, { tenantId, customerId: customer.id, number: p.cardNumber, kind: 'debit', currency: 'CNY', reservedPhone: p.phone, paymentPassword: p.paymentPassword, now });
        out.push({ ...p, ledgerAccountId: card.ledgerAccountId });
      }
      return out;
    });
  const readers = await make(READ_TENANT, o.readers, '1370000', false);
  const payers = await make(TOPUP_TENANT, o.payers, '1360000', true);
  const clearing = (await findAccountByCode(ctx.db, READ_TENANT, internalAccountCode('clearing', 'CNY')))!;
  await inTx(ctx.db, (tx) =>
    transferMany(
      tx,
      readers.map((r, i) => ({ idempotencyId: `chaos-fund-${i}`, debitAccountId: clearing.id, creditAccountId: r.ledgerAccountId, amountFen: READER_FUNDS_FEN, kind: 'salary', description: '混沌测试入账', counterparty: '混沌测试单位', now })),
    ),
  );
  return { readers, payers };
}

export interface Answer {
  status: number;
  body: any;
}

/** One JSON call; a network failure or timeout answers status 0. */
export async function call(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  try {
    const res = await fetch(url, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...(init.headers ?? {}) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body };
  } catch (err) {
    return { status: 0, body: { error: (err as Error).message } };
  }
}

export interface Cardholder {
  person: Person;
  token: string;
  deviceId: string;
  /** Each simulated phone comes from its own address (sign-ins are limited per address). */
  ip: string;
  cardId: string;
}

export function authHeaders(c: Cardholder): Record<string, string> {
  return { authorization: `Bearer ${c.token}`, 'x-device-id': c.deviceId, 'x-forwarded-for': c.ip };
}

function expectStatus(what: string, a: Answer, ...ok: number[]): void {
  if (!ok.includes(a.status)) throw new Error(`${what} answered ${a.status}: ${JSON.stringify(a.body).slice(0, 300)}`);
}

/** A WeChat user signs in through the mini-program (sandbox login code) at the front, and binds the person's card (OTP from the SMS gateway). */
export async function signInAndBind(front: Front, sandboxUrl: string, p: Person, n: number): Promise<Cardholder> {
  const ip = `10.77.${(n >> 8) & 255}.${n & 255}`;
  const creds = await call(`${sandboxUrl}/sandbox/api/tenants/${p.tenantId}/credentials`);
  expectStatus('credentials', creds, 200);
  const user = await call(`${sandboxUrl}/sandbox/api/users`, { body: { tenantId: p.tenantId } });
  expectStatus('sandbox user', user, 200, 201);
  const code = await call(`${sandboxUrl}/sandbox/api/users/${user.body.openid}/login-code`, { body: { appId: creds.body.miniProgram.appId } });
  expectStatus('login code', code, 200, 201);
  const deviceId = `dev_${randomBytes(12).toString('base64url')}`;
  const session = await call(`${front.url}/api/v1/sessions`, { body: { tenantId: p.tenantId, code: code.body.code }, headers: { 'x-device-id': deviceId, 'x-forwarded-for': ip } });
  expectStatus('sign-in', session, 201);
  const c: Cardholder = { person: p, token: session.body.token, deviceId, ip, cardId: '' };
  const start = await call(`${front.url}/api/v1/bindings`, {
    body: { cardNumber: p.cardNumber, holderName: p.name, idType: 'resident_id', idNumber: p.idNumber, phone: p.phone },
    headers: authHeaders(c),
  });
  expectStatus('binding', start, 201);
  const otp = front.lastCode(p.phone);
  if (!otp) throw new Error(`no OTP reached the SMS gateway for cardholder ${n}`);
  const confirm = await call(`${front.url}/api/v1/bindings/${start.body.bindingId}/confirm`, { body: { otp, paymentPassword: p.paymentPassword }, headers: authHeaders(c) });
  expectStatus('binding confirmation', confirm, 201);
  c.cardId = confirm.body.cardId;
  return c;
}
