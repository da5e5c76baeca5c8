// Test fixture for accounts: the sandbox and a wecard server over real HTTP, demo data, sign-in and binding (after identity's world.ts), postings, policies.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startPlatform, type Platform, type RunningServer } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { inTx } from '../../../src/db/tx.ts';
import { demoCardholders, demoRoutes, internalAccountCode, seedDemo, type DemoSummary } from '../../../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../../../src/sandbox/wx/index.ts';
import { identityRoutes, listBoundCards } from '../../../src/identity/index.ts';
import { corePort, getCard, type CoreCard } from '../../../src/core/index.ts';
import { findAccountByCode, transfer } from '../../../src/ledger/index.ts';
import { updatePolicy, type PolicyPatch } from '../../../src/tenants/index.ts';
import { accountsRoutes } from '../../../src/accounts/index.ts';
import { HOT_STATE_TTL_MS } from '../../../src/accounts/hot-state.ts';
import { testDemoCredentials } from '../../helpers/demo-credentials.ts';

for (const h of demoCardholders()) registerSensitive(h.name, h.idNumber, h.phone, h.paymentPassword, ...h.cardNumbers);

export type Holder = DemoSummary['cardholders'][number];

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface Session {
  token: string;
  deviceId: string;
  userId: string;
  tenantId: string;
}

export interface CallOptions {
  session?: Session;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface World {
  platform: Platform;
  server: RunningServer;
  sandbox: RunningServer;
  clock: ManualClock;
  demo: DemoSummary;
  call(method: string, path: string, o?: CallOptions): Promise<Answer>;
  holder(tenantId: string, name: string): Holder;
  signIn(tenantId: string): Promise<Session>;
  lastCode(phone: string): Promise<string>;
  /** Binds card `cardIndex` of `h`; returns the bound card (advances the clock past the SMS resend throttle first). */
  bind(s: Session, h: Holder, cardIndex?: number): Promise<{ cardId: string; maskedNumber: string }>;
  /** The core card behind a bound card. */
  coreOf(s: Session, cardId: string): Promise<CoreCard>;
  /** Books money into (+) or out of (−) a card from the tenant's clearing account, now. */
  post(s: Session, cardId: string, amountFen: bigint, description?: string): Promise<void>;
  setPolicy(tenantId: string, patch: PolicyPatch): Promise<void>;
  /** Moves the clock past what this instance trusts about sessions, policies and card states. */
  forgetHotState(): void;
  close(): Promise<void>;
}

export function newDeviceId(): string {
  return `dev_${randomBytes(12).toString('base64url')}`;
}

/**
 * The sandbox (WeChat users, login codes, SMS outbox, demo sheet) and one wecard server with the
 * core port (built-in ledger unless `config` names an external core), identity and accounts.
 */
export async function startWorld(o: { clockStart?: string; serverModules?: ModulePlugin[]; sandboxModules?: ModulePlugin[]; config?: Parameters<typeof startPlatform>[0]['config'] } = {}): Promise<World> {
  const clock = new ManualClock(o.clockStart ?? '2026-03-18T06:30:00Z');
  const platform = await startPlatform({
    sandboxModules: [sandboxWxRoutes, demoRoutes, ...(o.sandboxModules ?? [])],
    serverModules: o.serverModules ?? [corePort(), identityRoutes(), accountsRoutes()],
    clock,
    ...(o.config ? { config: o.config } : {}),
  });
  const server = platform.servers[0]!;
  const sandbox = platform.sandbox;
  await seedDemo(server.ctx, { credentials: testDemoCredentials });

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
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  const demo: DemoSummary = (await http(sandbox.url, 'GET', '/sandbox/api/demo', undefined, {})).body;
  const appIds = new Map<string, string>();

  const w: World = {
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
    holder: (tenantId, name) => {
      const h = demo.cardholders.find((x) => x.tenantId === tenantId && x.name === name);
      if (!h) throw new Error(`no demo cardholder ${name} at ${tenantId}`);
      return h;
    },
    signIn: async (tenantId) => {
      const who = (await http(sandbox.url, 'POST', '/sandbox/api/users', { tenantId }, {})).body as { openid: string };
      let appId = appIds.get(tenantId);
      if (!appId) {
        appId = (await http(sandbox.url, 'GET', `/sandbox/api/tenants/${tenantId}/credentials`, undefined, {})).body.miniProgram.appId as string;
        appIds.set(tenantId, appId);
      }
      const code = (await http(sandbox.url, 'POST', `/sandbox/api/users/${who.openid}/login-code`, { appId }, {})).body.code as string;
      const deviceId = newDeviceId();
      const r = await http(server.url, 'POST', '/api/v1/sessions', { tenantId, code }, { 'x-device-id': deviceId });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      registerSensitive(r.body.token);
      return { token: r.body.token, deviceId, userId: r.body.user.id, tenantId };
    },
    lastCode: async (phone) => {
      const list = (await http(sandbox.url, 'GET', `/sandbox/api/sms?phone=${encodeURIComponent(phone)}`, undefined, {})).body as { code?: string }[];
      expect(list.length).toBeGreaterThan(0);
      return list[0]!.code!;
    },
    bind: async (s, h, cardIndex = 0) => {
      clock.advance(61_000);
      const card = h.cards[cardIndex]!;
      const start = await w.call('POST', '/api/v1/bindings', {
        session: s,
        body: { cardNumber: card.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone },
      });
      expect(start.status, JSON.stringify(start.body)).toBe(201);
      const otp = await w.lastCode(h.phone);
      const confirm = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, { session: s, body: { otp, paymentPassword: h.paymentPassword } });
      expect(confirm.status, JSON.stringify(confirm.body)).toBe(201);
      return confirm.body;
    },
    coreOf: async (s, cardId) => {
      const bound = (await listBoundCards(server.ctx.db, s.tenantId, s.userId)).find((c) => c.cardId === cardId);
      if (!bound) throw new Error(`card ${cardId} is not bound to the session's user`);
      return (await getCard(server.ctx.db, bound.coreCardId))!;
    },
    post: async (s, cardId, amountFen, description = 'test posting') => {
      const core = await w.coreOf(s, cardId);
      const clearing = (await findAccountByCode(server.ctx.db, s.tenantId, internalAccountCode('clearing', core.currency)))!;
      const into = amountFen > 0n;
      await inTx(server.ctx.db, (tx) =>
        transfer(tx, {
          idempotencyId: `acc-test-${randomBytes(8).toString('hex')}`,
          debitAccountId: into ? clearing.id : core.ledgerAccountId,
          creditAccountId: into ? core.ledgerAccountId : clearing.id,
          amountFen: into ? amountFen : -amountFen,
          kind: into ? 'deposit' : 'purchase',
          description,
          counterparty: '测试商户',
          now: clock.now(),
        }),
      );
    },
    setPolicy: async (tenantId, patch) => {
      await inTx(server.ctx.db, (tx) => updatePolicy(tx, tenantId, patch, clock.now()));
      w.forgetHotState();
    },
    forgetHotState: () => clock.advance(HOT_STATE_TTL_MS),
    close: () => platform.close(),
  };
  return w;
}

/** Every string in an answer, flattened: to check that no clear card number, phone or ID leaves the server. */
export function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

/** Expects no clear number of the holder anywhere in the answer. */
export function expectMasked(answer: Answer, h: Holder): void {
  for (const secret of [...h.cards.map((c) => c.number), h.phone, h.idNumber]) expect(answer.text).not.toContain(secret);
}
