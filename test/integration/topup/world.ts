// Test fixture for top-ups: the sandbox (WeChat users, SMS, Pay) and a wecard server over real HTTP, demo citizen cards, signed-in cardholders with bound cards, and the fen accounting check.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startPlatform, type Platform, type RunningServer } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import type { TestDb } from '../../helpers/db.ts';
import { ManualClock, type Clock } from '../../../src/shared/clock.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { demoCardholders, demoRoutes, seedDemo, type DemoSummary } from '../../../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../../../src/sandbox/wx/index.ts';
import { DELIVER_NOTIFICATION_TOPIC, SETTLE_REFUND_TOPIC, sandboxPayRoutes } from '../../../src/sandbox/pay/index.ts';
import { identityRoutes } from '../../../src/identity/index.ts';
import { payNotifications, queryRefund } from '../../../src/wechat/pay/index.ts';
import { findCardByNumber } from '../../../src/core/index.ts';
import { getBalance } from '../../../src/ledger/index.ts';
import { ensureTopupAccounts, listReviewItems, topupFenAccount, topupPaymentHandlers, topupRoutes, TOPUP_TOPICS } from '../../../src/topup/index.ts';
import { testDemoCredentials } from '../../helpers/demo-credentials.ts';

// Payment passwords (6 digits) are left out: random digits in prepay ids and transaction ids match them by chance.
for (const h of demoCardholders()) registerSensitive(h.name, h.idNumber, h.phone, ...h.cardNumbers);

export const TENANT = 'hz-citizen-card';
export type Holder = DemoSummary['cardholders'][number];

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

export interface Session {
  token: string;
  deviceId: string;
  userId: string;
  tenantId: string;
  openid: string;
  unionid: string;
}

export function newDeviceId(): string {
  return `dev_${randomBytes(12).toString('base64url')}`;
}

async function http(base: string, method: string, path: string, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface TopupWorld {
  platform: Platform;
  server: RunningServer;
  sandbox: RunningServer;
  clock: Clock;
  demo: DemoSummary;
  call(method: string, path: string, o?: { session?: Session; body?: unknown; headers?: Record<string, string> }): Promise<Answer>;
  sandboxCall(method: string, path: string, body?: unknown): Promise<Answer>;
  holder(pick: (h: Holder) => boolean): Holder;
  /** A fresh WeChat user signed in through the mini-program, or the OA (oauth), or both (same unionid). */
  signIn(o?: { app?: 'mini' | 'oa'; as?: { openid: string; unionid: string }; deviceId?: string }): Promise<Session>;
  /** Binds the holder's citizen card for the session (OTP by SMS, payment password). */
  bind(s: Session, h: Holder): Promise<any>;
  topup(s: Session, body: Record<string, unknown>, key?: string): Promise<Answer>;
  /** Pays at the simulated cashier; answers the sandbox's outcome. */
  pay(prepayId: string, bankType?: string): Promise<Answer>;
  prepayOf(payParams: { package: string }): string;
  /** Runs due top-up jobs on the server (optionally with a later claim time) until none is left. */
  runJobs(o?: { now?: Date; topics?: readonly string[]; rounds?: number }): Promise<number>;
  /** Runs the sandbox's notification retries and refund settlement. */
  runSandboxJobs(o?: { now?: Date; topics?: string[] }): Promise<number>;
  cardAccount(cardNumber: string): Promise<string>;
  close(): Promise<void>;
}

export const CITIZEN = {
  physical: (h: Holder) => h.tenantId === TENANT && h.name === '黄国平',
  electronic: (h: Holder) => h.tenantId === TENANT && h.name === '徐静',
  anonymous: (h: Holder) => h.tenantId === TENANT && h.name === '马小宇',
};

export async function startTopupWorld(o: { clock?: Clock; db?: TestDb; extraServerModules?: ModulePlugin[]; instances?: number } = {}): Promise<TopupWorld> {
  const clock = o.clock ?? new ManualClock('2026-03-18T02:30:00Z');
  const platform = await startPlatform({
    sandboxModules: [sandboxWxRoutes, demoRoutes, sandboxPayRoutes],
    serverModules: [identityRoutes(), payNotifications(topupPaymentHandlers()), topupRoutes({ scheduleDaily: false }), ...(o.extraServerModules ?? [])],
    clock,
    db: o.db,
    instances: o.instances,
  });
  const server = platform.servers[0]!;
  const sandbox = platform.sandbox;
  await seedDemo(server.ctx, { credentials: testDemoCredentials });
  await ensureTopupAccounts(server.ctx, TENANT);
  const demo: DemoSummary = (await http(sandbox.url, 'GET', '/sandbox/api/demo', undefined, {})).body;
  const creds = (await http(sandbox.url, 'GET', `/sandbox/api/tenants/${TENANT}/credentials`, undefined, {})).body;
  const advance = (ms: number) => (clock instanceof ManualClock ? clock.advance(ms) : undefined);

  const w: TopupWorld = {
    platform,
    server,
    sandbox,
    clock,
    demo,
    call: (method, path, c = {}) => {
      const headers: Record<string, string> = { ...(c.headers ?? {}) };
      if (c.session) {
        headers.authorization = `Bearer ${c.session.token}`;
        headers['x-device-id'] = c.session.deviceId;
      }
      return http(server.url, method, path, c.body, headers);
    },
    sandboxCall: (method, path, body) => http(sandbox.url, method, path, body, {}),
    holder: (pick) => {
      const h = demo.cardholders.find(pick);
      if (!h) throw new Error('no such demo cardholder');
      return h;
    },
    signIn: async (s = {}) => {
      const who = s.as ?? (await http(sandbox.url, 'POST', '/sandbox/api/users', { tenantId: TENANT }, {})).body;
      const app = s.app ?? 'mini';
      const codeAnswer = await http(sandbox.url, 'POST', `/sandbox/api/users/${who.openid}/login-code`, { appId: app === 'mini' ? creds.miniProgram.appId : creds.oa.appId, ...(app === 'oa' ? { scope: 'snsapi_userinfo' } : {}) }, {});
      expect(codeAnswer.status, JSON.stringify(codeAnswer.body)).toBeLessThan(300);
      const deviceId = s.deviceId ?? newDeviceId();
      const r = await http(server.url, 'POST', '/api/v1/sessions', { tenantId: TENANT, code: codeAnswer.body.code, ...(app === 'oa' ? { kind: 'oauth' } : {}) }, { 'x-device-id': deviceId });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      registerSensitive(r.body.token);
      return { token: r.body.token, deviceId, userId: r.body.user.id, tenantId: TENANT, openid: who.openid, unionid: who.unionid };
    },
    bind: async (s, h) => {
      advance(61_000);
      const card = h.cards[0]!;
      const start = await w.call('POST', '/api/v1/bindings', { session: s, body: { cardNumber: card.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone } });
      expect(start.status, JSON.stringify(start.body)).toBe(201);
      const sms = (await http(sandbox.url, 'GET', `/sandbox/api/sms?phone=${encodeURIComponent(h.phone)}`, undefined, {})).body;
      const confirm = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: sms[0].code, paymentPassword: h.paymentPassword } });
      expect(confirm.status, JSON.stringify(confirm.body)).toBe(201);
      return confirm.body;
    },
    topup: (s, body, key) => w.call('POST', '/api/v1/topups', { session: s, body, headers: { 'idempotency-key': key ?? `k-${randomBytes(8).toString('hex')}` } }),
    pay: (prepayId, bankType) => http(sandbox.url, 'POST', `/sandbox/api/pay/orders/${prepayId}/pay`, bankType ? { bankType } : {}, {}),
    prepayOf: (p) => p.package.replace(/^prepay_id=/, ''),
    runJobs: async (r = {}) => {
      let total = 0;
      for (let i = 0; i < (r.rounds ?? 20); i++) {
        const n = await server.ctx.jobs.runDue({ topics: [...(r.topics ?? TOPUP_TOPICS)], ...(r.now ? { now: r.now } : {}) });
        total += n;
        if (n === 0) break;
      }
      return total;
    },
    runSandboxJobs: async (r = {}) => {
      let total = 0;
      for (let i = 0; i < 10; i++) {
        const n = await sandbox.ctx.jobs.runDue({ topics: r.topics ?? [DELIVER_NOTIFICATION_TOPIC, SETTLE_REFUND_TOPIC], ...(r.now ? { now: r.now } : {}) });
        total += n;
        if (n === 0) break;
      }
      return total;
    },
    cardAccount: async (cardNumber) => (await findCardByNumber(server.ctx.db, server.ctx.crypto, TENANT, cardNumber))!.ledgerAccountId,
    close: () => platform.close(),
  };
  return w;
}

export interface FenCheck {
  paidFen: bigint;
  creditedFen: bigint;
  refundedFen: bigint;
  inReviewFen: bigint;
}

/**
 * Every fen accounted for, from independent sources: paid and refunded as WeChat (the sandbox)
 * holds them; credited from the ledger (the cards' balances and the fee account, moved since
 * `baseline`); in review from the queue. Asserts paid = credited + refunded + in review.
 * Runs the sandbox's refund settlement and our jobs first, so no refund is still in flight.
 */
export async function assertEveryFenAccounted(w: TopupWorld, baseline: Baseline, o: { extraPaidFen?: bigint } = {}): Promise<FenCheck> {
  const ctx = w.server.ctx;
  for (let i = 0; i < 3; i++) {
    await w.runJobs({ topics: ['topup.refund'] });
    await w.runSandboxJobs({ topics: ['sandbox.pay.settle_refund'] });
  }
  const attempts = await ctx.db.selectFrom('topup_attempts').select(['out_trade_no', 'prepay_id']).where('tenant_id', '=', TENANT).execute();
  let paidFen = 0n;
  for (const a of attempts) {
    if (!a.prepay_id) continue;
    const o = await w.sandboxCall('GET', `/sandbox/api/pay/orders/${a.prepay_id}`);
    if (o.body.state === 'SUCCESS' || o.body.state === 'REFUND') paidFen += BigInt(o.body.amount.total);
  }
  const refunds = await ctx.db.selectFrom('topup_refunds').select(['out_refund_no']).where('tenant_id', '=', TENANT).execute();
  let refundedFen = 0n;
  for (const r of refunds) {
    const q = await queryRefund(ctx, TENANT, r.out_refund_no).catch(() => undefined);
    if (q?.status === 'SUCCESS') refundedFen += BigInt(q.amount.refundFen);
  }
  // Payments WeChat reported that the sandbox's cashier did not make (a test's own notification or bill).
  paidFen += o.extraPaidFen ?? 0n;
  const creditedFen = (await ledgerTotal(w, baseline.accounts)) - baseline.totalFen;
  let inReviewFen = 0n;
  for (let cursor: string | undefined, i = 0; i < 100; i++) {
    const page = await listReviewItems(ctx.db, TENANT, { limit: 100, cursor });
    inReviewFen += page.items.reduce((s, x) => s + x.amountFen, 0n);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  expect({ paid: paidFen, accounted: creditedFen + refundedFen + inReviewFen, creditedFen, refundedFen, inReviewFen }).toMatchObject({ paid: creditedFen + refundedFen + inReviewFen });
  // The module's own view from its ledger accounts agrees once no refund is in flight.
  const own = await topupFenAccount(ctx, TENANT);
  expect(own.refundingFen).toBe(0n);
  expect(own.creditedFen).toBe(creditedFen);
  expect(own.refundedFen).toBe(refundedFen);
  expect(own.inReviewFen).toBe(inReviewFen);
  return { paidFen, creditedFen, refundedFen, inReviewFen };
}

export interface Baseline {
  accounts: string[];
  totalFen: bigint;
}

/** Cards' balances (posted + pending loads) plus the fee account, before the test moves money. */
export async function baseline(w: TopupWorld): Promise<Baseline> {
  const cards = w.demo.cardholders.filter((h) => h.tenantId === TENANT).map((h) => h.cards[0]!.number);
  const accounts = [...(await Promise.all(cards.map((c) => w.cardAccount(c)))), ...(await ensureTopupAccounts(w.server.ctx, TENANT)).fee];
  return { accounts, totalFen: await ledgerTotal(w, accounts) };
}

async function ledgerTotal(w: TopupWorld, accounts: string[]): Promise<bigint> {
  let total = 0n;
  for (const a of accounts) {
    const b = await getBalance(w.server.ctx.db, a);
    total += b.postedFen + b.pendingCreditFen;
  }
  return total;
}
