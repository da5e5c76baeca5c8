// Test fixture for identity: the sandbox platform and a wecard server over real HTTP, demo data, WeChat users, sessions, SMS codes, bound cards.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startPlatform, type Platform, type RunningServer } from '../../helpers/platform.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { demoCardholders, demoRoutes, seedDemo, type DemoSummary } from '../../../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../../../src/sandbox/wx/index.ts';
import { sandboxFaceRoutes } from '../../../src/sandbox/face/index.ts';
import { identityRoutes, type IdentityRoutesOptions } from '../../../src/identity/index.ts';
import { testDemoCredentials } from '../../helpers/demo-credentials.ts';

// Every value of the demo sheet must stay out of the logs.
for (const h of demoCardholders()) registerSensitive(h.name, h.idNumber, h.phone, h.paymentPassword, ...h.cardNumbers);

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

export interface World {
  platform: Platform;
  server: RunningServer;
  sandbox: RunningServer;
  clock: ManualClock;
  demo: DemoSummary;
  call(method: string, path: string, o?: { session?: Session; token?: string; deviceId?: string; body?: unknown; headers?: Record<string, string> }): Promise<Answer>;
  sandboxCall(method: string, path: string, body?: unknown): Promise<Answer>;
  holder(tenantId: string, pick?: (h: Holder) => boolean): Holder;
  newWechatUser(tenantId: string): Promise<{ openid: string; unionid: string }>;
  loginCode(tenantId: string, openid: string, app: 'mini' | 'oa', scope?: 'snsapi_base' | 'snsapi_userinfo'): Promise<string>;
  signIn(tenantId: string, o?: { openid?: string; unionid?: string; deviceId?: string; app?: 'mini' | 'oa'; scope?: 'snsapi_base' | 'snsapi_userinfo' }): Promise<Session & { user: any }>;
  sms(phone: string): Promise<{ phone: string; text: string; code?: string; sentAt: string }[]>;
  lastCode(phone: string): Promise<string>;
  /** Binds card `cardIndex` of `h` for the session; returns the bound card. Advances the clock past the resend throttle first. */
  bind(s: Session, h: Holder, cardIndex?: number, o?: { paymentPassword?: string }): Promise<any>;
  close(): Promise<void>;
}

export function newDeviceId(): string {
  return `dev_${randomBytes(12).toString('base64url')}`;
}

export async function startWorld(o: { clockStart?: string; identity?: IdentityRoutesOptions; extraServerModules?: ModulePlugin[] } = {}): Promise<World> {
  const clock = new ManualClock(o.clockStart ?? '2026-03-18T06:30:00Z');
  const platform = await startPlatform({
    sandboxModules: [sandboxWxRoutes, demoRoutes, sandboxFaceRoutes],
    serverModules: [identityRoutes(o.identity), ...(o.extraServerModules ?? [])],
    clock,
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
    return { status: res.status, body: parsed, headers: res.headers };
  }

  const demo: DemoSummary = (await http(sandbox.url, 'GET', '/sandbox/api/demo', undefined, {})).body;
  const appIds = new Map<string, { mini: string; oa: string }>();

  const w: World = {
    platform,
    server,
    sandbox,
    clock,
    demo,
    call: (method, path, c = {}) => {
      const headers: Record<string, string> = { ...(c.headers ?? {}) };
      const token = c.token ?? c.session?.token;
      if (token) headers.authorization = `Bearer ${token}`;
      const deviceId = c.deviceId ?? c.session?.deviceId;
      if (deviceId) headers['x-device-id'] = deviceId;
      return http(server.url, method, path, c.body, headers);
    },
    sandboxCall: (method, path, body) => http(sandbox.url, method, path, body, {}),
    holder: (tenantId, pick = () => true) => {
      const h = demo.cardholders.find((x) => x.tenantId === tenantId && pick(x));
      if (!h) throw new Error(`no demo cardholder at ${tenantId}`);
      return h;
    },
    newWechatUser: async (tenantId) => {
      const r = await http(sandbox.url, 'POST', '/sandbox/api/users', { tenantId }, {});
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      return r.body;
    },
    loginCode: async (tenantId, openid, app, scope) => {
      let ids = appIds.get(tenantId);
      if (!ids) {
        const c = (await http(sandbox.url, 'GET', `/sandbox/api/tenants/${tenantId}/credentials`, undefined, {})).body;
        ids = { mini: c.miniProgram.appId, oa: c.oa.appId };
        appIds.set(tenantId, ids);
      }
      const r = await http(sandbox.url, 'POST', `/sandbox/api/users/${openid}/login-code`, { appId: app === 'mini' ? ids.mini : ids.oa, ...(scope ? { scope } : {}) }, {});
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      return r.body.code;
    },
    signIn: async (tenantId, s = {}) => {
      const who = s.openid ? { openid: s.openid, unionid: s.unionid ?? '' } : await w.newWechatUser(tenantId);
      const app = s.app ?? 'mini';
      const code = await w.loginCode(tenantId, who.openid, app, s.scope);
      const deviceId = s.deviceId ?? newDeviceId();
      const r = await http(server.url, 'POST', '/api/v1/sessions', { tenantId, code, ...(app === 'oa' ? { kind: 'oauth' } : {}) }, { 'x-device-id': deviceId });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      registerSensitive(r.body.token);
      return { token: r.body.token, deviceId, userId: r.body.user.id, tenantId, openid: who.openid, unionid: who.unionid, user: r.body.user };
    },
    sms: async (phone) => (await http(sandbox.url, 'GET', `/sandbox/api/sms?phone=${encodeURIComponent(phone)}`, undefined, {})).body,
    lastCode: async (phone) => {
      const list = await w.sms(phone);
      expect(list.length).toBeGreaterThan(0);
      return list[0]!.code!;
    },
    bind: async (s, h, cardIndex = 0, b = {}) => {
      clock.advance(61_000);
      const card = h.cards[cardIndex]!;
      const start = await w.call('POST', '/api/v1/bindings', {
        session: s,
        body: { cardNumber: card.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone },
      });
      expect(start.status, JSON.stringify(start.body)).toBe(201);
      const otp = await w.lastCode(h.phone);
      const confirm = await w.call('POST', `/api/v1/bindings/${start.body.bindingId}/confirm`, {
        session: s,
        body: { otp, paymentPassword: b.paymentPassword ?? h.paymentPassword },
      });
      expect(confirm.status, JSON.stringify(confirm.body)).toBe(201);
      return confirm.body;
    },
    close: () => platform.close(),
  };
  return w;
}
