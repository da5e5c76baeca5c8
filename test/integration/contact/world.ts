// Test fixture for contact: the sandbox (wx, demo, WeCom) and a wecard server over real HTTP with the contact module, demo data, signed-in cardholders with bound cards, bill refs.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import * as wecomCrypto from '@wecom/crypto';
import { startPlatform, type Platform, type RunningServer } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { demoCardholders, demoRoutes, seedDemo, type DemoSummary } from '../../../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../../../src/sandbox/wx/index.ts';
import { sandboxWecomRoutes } from '../../../src/sandbox/wecom/index.ts';
import { identityRoutes, withCardholderAuth } from '../../../src/identity/index.ts';
import { corePort, findCardByNumber, readTransactions, type CoreTransaction } from '../../../src/core/index.ts';
import { wecomCallbacks } from '../../../src/wechat/wecom/index.ts';
import { billRefFor, contactRoutes, contactWecomHandlers, issueAgentToken, seedSandboxAgents, transactionSourceId, type BillSource, type OperatorAuth } from '../../../src/contact/index.ts';
import { AppError } from '../../../src/app/errors.ts';
import { sandboxPayRoutes } from '../../../src/sandbox/pay/index.ts';
import { payNotifications } from '../../../src/wechat/pay/index.ts';
import { ensureTopupAccounts, topupPaymentHandlers, topupRoutes } from '../../../src/topup/index.ts';
import { testDemoCredentials } from '../../helpers/demo-credentials.ts';

for (const h of demoCardholders()) registerSensitive(h.name, h.idNumber, h.phone, h.paymentPassword, ...h.cardNumbers);

export type Holder = DemoSummary['cardholders'][number];

export interface Answer {
  status: number;
  body: any;
}

export interface Session {
  token: string;
  deviceId: string;
  userId: string;
  tenantId: string;
}

/** The placeholder operator hook of the tests: `X-Test-Operator: <tenantId>` reads that tenant's funnel. */
export const testOperatorAuth: OperatorAuth = {
  authenticate: async (request) => {
    if (typeof request.headers['x-test-operator'] !== 'string') throw new AppError('unauthenticated', 'operator sign-in required');
  },
  canReadTenant: (request, tenantId) => request.headers['x-test-operator'] === tenantId,
};

export interface World {
  platform: Platform;
  server: RunningServer;
  clock: ManualClock;
  demo: DemoSummary;
  agentTokens: Map<string, string>;
  call(method: string, path: string, o?: { session?: Session; token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Answer>;
  sandboxCall(method: string, path: string, body?: unknown): Promise<Answer>;
  holder(tenantId: string, name: string): Holder;
  signIn(tenantId: string): Promise<Session>;
  bind(s: Session, h: Holder, cardIndex?: number): Promise<{ cardId: string; last4: string; maskedNumber: string }>;
  /** The card's statement, newest first, straight from the core (as the accounts module would read it). */
  statement(s: Session, card: { cardId: string }, coreCardId: string, limit?: number): Promise<CoreTransaction[]>;
  /** The ref the accounts module would put on a statement item. */
  refOf(s: Session, cardId: string, t: CoreTransaction): Promise<string>;
  runJobs(): Promise<number>;
  /** A WeCom event for the tenant, encrypted and signed by an independent library, POSTed as WeCom would. */
  postWecomEvent(tenantId: string, xml: string): Promise<Answer>;
  wecomCorpId(tenantId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startWorld(o: { clockStart?: string; config?: Record<string, string>; sources?: BillSource[]; topup?: boolean } = {}): Promise<World> {
  const clock = new ManualClock(o.clockStart ?? '2026-03-18T06:30:00Z');
  const platform = await startPlatform({
    sandboxModules: [sandboxWxRoutes, demoRoutes, sandboxWecomRoutes, ...(o.topup ? [sandboxPayRoutes] : [])],
    serverModules: [
      corePort(),
      identityRoutes(),
      ...(o.topup ? [payNotifications(topupPaymentHandlers()), topupRoutes({ scheduleDaily: false })] : []),
      wecomCallbacks(contactWecomHandlers()),
      withCardholderAuth(({ authenticate }) => contactRoutes({ authenticate, operatorAuth: testOperatorAuth, sources: o.sources })),
    ],
    clock,
    ...(o.config ? { config: o.config } : {}),
  });
  const server = platform.servers[0]!;
  await seedDemo(server.ctx, { credentials: testDemoCredentials });
  const tenants = ['abc-demo', 'realtime-bank', 'hz-citizen-card'];
  await seedSandboxAgents(server.ctx, tenants);
  if (o.topup) await ensureTopupAccounts(server.ctx, 'hz-citizen-card');
  const agentTokens = new Map<string, string>();
  for (const t of tenants) {
    const { token } = await issueAgentToken(server.ctx, t, 'test desk');
    registerSensitive(token);
    agentTokens.set(t, token);
  }

  async function http(base: string, method: string, path: string, body: unknown, headers: Record<string, string>, raw?: string): Promise<Answer> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed };
  }

  const demo: DemoSummary = (await http(platform.sandbox.url, 'GET', '/sandbox/api/demo', undefined, {})).body;
  const creds = new Map<string, any>();
  const credentialsOf = async (tenantId: string) => {
    if (!creds.has(tenantId)) creds.set(tenantId, (await http(platform.sandbox.url, 'GET', `/sandbox/api/tenants/${tenantId}/credentials`, undefined, {})).body);
    return creds.get(tenantId);
  };

  const w: World = {
    platform,
    server,
    clock,
    demo,
    agentTokens,
    call: (method, path, c = {}) => {
      const headers: Record<string, string> = { ...(c.headers ?? {}) };
      const token = c.token ?? c.session?.token;
      if (token) headers.authorization = `Bearer ${token}`;
      if (c.session) headers['x-device-id'] = c.session.deviceId;
      return http(server.url, method, path, c.body, headers);
    },
    sandboxCall: (method, path, body) => http(platform.sandbox.url, method, path, body, {}),
    holder: (tenantId, name) => {
      const h = demo.cardholders.find((x) => x.tenantId === tenantId && x.name === name);
      if (!h) throw new Error(`no demo cardholder ${name} at ${tenantId}`);
      return h;
    },
    signIn: async (tenantId) => {
      const who = (await http(platform.sandbox.url, 'POST', '/sandbox/api/users', { tenantId }, {})).body;
      const c = await credentialsOf(tenantId);
      const code = (await http(platform.sandbox.url, 'POST', `/sandbox/api/users/${who.openid}/login-code`, { appId: c.miniProgram.appId }, {})).body.code;
      const deviceId = `dev_${randomBytes(12).toString('base64url')}`;
      const r = await http(server.url, 'POST', '/api/v1/sessions', { tenantId, code }, { 'x-device-id': deviceId });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      registerSensitive(r.body.token);
      return { token: r.body.token, deviceId, userId: r.body.user.id, tenantId };
    },
    bind: async (s, h, cardIndex = 0) => {
      clock.advance(61_000);
      const card = h.cards[cardIndex]!;
      const start = await w.call('POST', '/api/v1/bindings', { session: s, body: { cardNumber: card.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone } });
      expect(start.status, JSON.stringify(start.body)).toBe(201);
      const sms = (await http(platform.sandbox.url, 'GET', `/sandbox/api/sms?phone=${encodeURIComponent(h.phone)}`, undefined, {})).body;
      const confirm = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp: sms[0].code, paymentPassword: h.paymentPassword } });
      expect(confirm.status, JSON.stringify(confirm.body)).toBe(201);
      return confirm.body;
    },
    statement: async (s, _card, coreCardId, limit = 20) =>
      (await readTransactions(server.ctx, { tenantId: s.tenantId, card: { id: coreCardId, tenantId: s.tenantId }, limit, now: clock.now() })).items,
    refOf: (s, cardId, t) => billRefFor(server.ctx, { tenantId: s.tenantId, userId: s.userId, kind: 'transaction', sourceId: transactionSourceId({ cardId, transactionId: t.id, bookedAt: t.bookedAt }) }),
    runJobs: async () => {
      let n = 0;
      for (let i = 0; i < 10; i++) {
        const ran = (await server.ctx.jobs.runDue()) + (await platform.sandbox.ctx.jobs.runDue());
        n += ran;
        if (ran === 0) break;
      }
      return n;
    },
    wecomCorpId: async (tenantId) => (await credentialsOf(tenantId)).wecom.corpId,
    postWecomEvent: async (tenantId, xml) => {
      const wecom = (await credentialsOf(tenantId)).wecom;
      const timestamp = String(Math.floor(clock.now().getTime() / 1000));
      const nonce = String(1_000_000 + Math.floor(Math.random() * 1e9));
      const encrypted = wecomCrypto.encrypt(wecom.encodingAESKey, xml, wecom.corpId);
      const sig = wecomCrypto.getSignature(wecom.token, timestamp, nonce, encrypted);
      const body = `<xml><ToUserName><![CDATA[${wecom.corpId}]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`;
      return http(server.url, 'POST', `/wechat/wecom/${tenantId}?msg_signature=${sig}&timestamp=${timestamp}&nonce=${nonce}`, undefined, { 'content-type': 'text/xml' }, body);
    },
    close: () => platform.close(),
  };
  return w;
}

/** The core card id behind a demo card number (the test reads the statement as accounts would). */
export async function coreCardIdOf(w: World, tenantId: string, cardNumber: string): Promise<string> {
  const card = await findCardByNumber(w.server.ctx.db, w.server.ctx.crypto, tenantId, cardNumber);
  if (!card) throw new Error('no such demo card');
  return card.id;
}
