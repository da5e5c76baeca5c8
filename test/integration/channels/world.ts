// Test fixture for channels: accounts' world (sandbox + one wecard server over real HTTP, demo data) plus the OA server with the channels handler, the sandbox OA push, OA web-auth sign-in and chat helpers.
import { expect } from 'vitest';
import { startWorld, newDeviceId, type Session, type World } from '../accounts/world.ts';
import { registerSensitive } from '../../helpers/secrets.ts';
import type { ModulePlugin } from '../../../src/app/server.ts';
import { corePort } from '../../../src/core/index.ts';
import { identityRoutes } from '../../../src/identity/index.ts';
import { accountsRoutes } from '../../../src/accounts/index.ts';
import { oaServer } from '../../../src/wechat/oa/index.ts';
import { sandboxOaRoutes } from '../../../src/sandbox/oa/index.ts';
import { sandboxSmsInboundRoutes } from '../../../src/sandbox/sms/index.ts';
import { sandboxSocialRoutes } from '../../../src/sandbox/social/index.ts';
import { sandboxFaceRoutes } from '../../../src/sandbox/face/index.ts';
import { channelsModule, channelsOaHandler } from '../../../src/channels/index.ts';

/** The shared secret of the SMS provider's inbound webhook (the sandbox signs with it). */
export const SMS_PROVIDER_TOKEN = 'test-sms-provider-token-0123456789';

export interface OaUser {
  /** The user's openid in the tenant's Official Account (what OA pushes carry). */
  oaOpenid: string;
  session: Session;
}

export interface ChannelsWorld extends World {
  /** A new WeChat user signs in to the H5 pages through OA web auth (snsapi_base), as the binding link leads them. */
  signInOa(tenantId: string): Promise<OaUser>;
  /** The user sends text (or clicks a menu key) in the OA chat; the sandbox pushes it over the real protocol. Returns the reply text. */
  chat(tenantId: string, oaOpenid: string, m: { text: string } | { menuKey: string }): Promise<{ reply: string | null; attempts: number; failure?: string }>;
  sandboxGet(path: string): Promise<any>;
  sandboxPost(path: string, body: unknown): Promise<{ status: number; body: any }>;
}

export async function startChannelsWorld(o: { serverModules?: ModulePlugin[]; sandboxModules?: ModulePlugin[]; config?: Record<string, string> } = {}): Promise<ChannelsWorld> {
  const w = await startWorld({
    serverModules: [corePort(), identityRoutes(), accountsRoutes(), oaServer({ onMessage: channelsOaHandler() }), channelsModule(), ...(o.serverModules ?? [])],
    sandboxModules: [sandboxOaRoutes, sandboxSmsInboundRoutes, sandboxFaceRoutes, sandboxSocialRoutes, ...(o.sandboxModules ?? [])],
    config: { SMS_PROVIDER_TOKEN, ...(o.config ?? {}) },
  });
  const sandboxUrl = w.sandbox.url;
  async function sandboxPost(path: string, body: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${sandboxUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }
  async function sandboxGet(path: string): Promise<any> {
    const res = await fetch(`${sandboxUrl}${path}`);
    expect(res.status, path).toBe(200);
    return res.json();
  }
  const cw: ChannelsWorld = Object.assign(w, {
    sandboxGet,
    sandboxPost,
    signInOa: async (tenantId: string): Promise<OaUser> => {
      const who = await sandboxPost('/sandbox/api/users', { tenantId });
      expect(who.status).toBe(201);
      const oaAppId = (await sandboxGet(`/sandbox/api/tenants/${tenantId}/credentials`)).oa.appId as string;
      const code = (await sandboxPost(`/sandbox/api/users/${who.body.openid}/login-code`, { appId: oaAppId, scope: 'snsapi_base' })).body.code as string;
      const deviceId = newDeviceId();
      const r = await w.call('POST', '/api/v1/sessions', { body: { tenantId, code, kind: 'oauth' }, headers: { 'x-device-id': deviceId } });
      expect(r.status, r.text).toBe(201);
      registerSensitive(r.body.token);
      return { oaOpenid: who.body.openid, session: { token: r.body.token, deviceId, userId: r.body.user.id, tenantId } };
    },
    chat: async (tenantId: string, oaOpenid: string, m: { text: string } | { menuKey: string }) => {
      const r = await sandboxPost(`/sandbox/api/users/${oaOpenid}/oa-messages`, { tenantId, ...m });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    },
  });
  return cw;
}
