// The outbound API against the real sandbox over HTTP: the shared token's life, messages and their errcodes, login, phone and user data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import {
  code2Session,
  decryptUserData,
  exchangeOAuthCode,
  getAccessToken,
  getUserPhoneNumber,
  sendCustomText,
  sendSubscribeMessage,
  sendTemplateMessage,
  tokenStats,
  WechatApiError,
} from '../../../../src/wechat/api/index.ts';
import type { AppContext } from '../../../../src/app/context.ts';
import { AppError } from '../../../../src/app/errors.ts';
import { startPlatform, startServer, type Platform } from '../../../helpers/platform.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { appCredentials, http, loginCode, MINUTE_MS, sandboxUser, tokenFetches, wxTenant, type AppCredentials } from './fixtures.ts';

let platform: Platform;
let server: AppContext;
const clock = new ManualClock('2026-03-02T01:00:00Z');
let tenantId: string;
let creds: AppCredentials;
let user: { openid: string; unionid: string; miniProgramOpenid: string };
const PHONE = '13712345678';
registerSensitive(PHONE);

const TEMPLATE = 'tpl_BalanceChange_01';
const data = { first: { value: '您的账户余额变动' }, keyword1: { value: '尾号 8903' } };

async function errcodeOf(p: Promise<unknown>): Promise<number | string> {
  try {
    await p;
    return 0;
  } catch (e) {
    return e instanceof WechatApiError ? e.errcode : e instanceof AppError ? e.code : String(e);
  }
}

async function token(kind: 'oa' | 'miniProgram' | 'wecom' = 'oa', ctx = server): Promise<string> {
  const t = await getAccessToken(ctx, { tenantId, kind });
  registerSensitive(t);
  return t;
}

beforeAll(async () => {
  platform = await startPlatform({ sandboxModules: [sandboxWxRoutes], serverModules: [], clock });
  server = platform.servers[0]!.ctx;
  ({ tenantId, creds } = await wxTenant(server));
  user = await sandboxUser(platform.sandbox.url, tenantId, PHONE);
}, 60_000);

afterAll(async () => {
  await platform?.close();
});

describe('the shared access_token', () => {
  it('fetches once for many concurrent callers and reuses it', async () => {
    const tokens = await Promise.all(Array.from({ length: 12 }, () => token()));
    expect(new Set(tokens).size).toBe(1);
    expect(await tokenFetches(platform.sandbox.url, creds.oa.appId)).toBe(1);
    expect(await token()).toBe(tokens[0]);
    expect((await tokenStats(server.db, tenantId)).find((s) => s.kind === 'oa')).toMatchObject({ refreshes: 1, forcedRefreshes: 0 });
  });

  it('keeps the token encrypted at rest', async () => {
    const t = await token();
    const rows = await server.db.selectFrom('wechat_access_tokens').selectAll().where('tenant_id', '=', tenantId).execute();
    expect(JSON.stringify(rows)).not.toContain(t);
  });

  it('refreshes ahead of expiry, when less than 5 minutes are left', async () => {
    const before = await token();
    const fetches = await tokenFetches(platform.sandbox.url, creds.oa.appId);
    clock.advance(7200 * 1000 - 5 * MINUTE_MS - 1000);
    expect(await token()).toBe(before);
    clock.advance(2000);
    const after = await token();
    expect(after).not.toBe(before);
    expect(await tokenFetches(platform.sandbox.url, creds.oa.appId)).toBe(fetches + 1);
    expect(await token()).toBe(after);
  });

  it('replaces a token the platform revoked once, and the call that met it succeeds', async () => {
    const fetches = await tokenFetches(platform.sandbox.url, creds.oa.appId);
    await http('POST', `${platform.sandbox.url}/sandbox/api/tokens/revoke`, { appId: creds.oa.appId });
    const sent = await Promise.all([1, 2, 3].map(() => sendTemplateMessage(server, tenantId, { touser: user.openid, templateId: TEMPLATE, data })));
    expect(sent).toHaveLength(3);
    expect(await tokenFetches(platform.sandbox.url, creds.oa.appId)).toBe(fetches + 1);
    expect((await tokenStats(server.db, tenantId)).find((s) => s.kind === 'oa')?.forcedRefreshes).toBe(1);
  });

  it('fetches a new token after the stored one expired', async () => {
    const before = await token();
    clock.advance(7200 * 1000);
    expect(await token()).not.toBe(before);
  });

  it('keeps one token per app: OA, mini-program and WeCom are fetched separately', async () => {
    const [oa, mini, wecom] = await Promise.all([token('oa'), token('miniProgram'), token('wecom')]);
    expect(new Set([oa, mini, wecom]).size).toBe(3);
    const gettoken = await http('GET', `${platform.sandbox.url}/sandbox/wecom/cgi-bin/gettoken?corpid=${creds.wecom.corpId}&corpsecret=${creds.wecom.secret}`);
    expect(gettoken.body.access_token).toBe(wecom);
  });

  it('answers not_found for an app the tenant has not configured', async () => {
    const { tenantId: wecomOnly } = await wxTenant(server, { wecom: appCredentials().wecom });
    expect(await errcodeOf(getAccessToken(server, { tenantId: wecomOnly, kind: 'oa' }))).toBe('not_found');
    expect(await errcodeOf(getAccessToken(server, { tenantId: wecomOnly, kind: 'miniProgram' }))).toBe('not_found');
    expect(await errcodeOf(getAccessToken(server, { tenantId: 'no-such-tenant', kind: 'oa' }))).toBe('not_found');
  });

  it('never writes a token or a secret to the log', async () => {
    const t = await token();
    const all = [...platform.servers[0]!.logs, ...platform.sandbox.logs].join('\n');
    for (const secret of [t, creds.oa.appSecret, creds.miniProgram.appSecret, creds.wecom.secret]) expect(all).not.toContain(secret);
    expect(all).toContain('access_token refreshed');
  });
});

describe('when WeChat cannot be reached', () => {
  it.each([
    ['nothing listens', () => 'http://127.0.0.1:9/sandbox/wx'],
    ['the answer is not WeChat JSON (HTTP 404)', () => `${platform.sandbox.url}/nowhere`],
  ])('fails with errcode -1 when %s, releases the lease and logs no secret', async (_name, base) => {
    const other = await startServer({ modules: [], dbHandle: platform.db, clock, config: { WECHAT_API_BASE: base() } });
    try {
      const { tenantId: t, creds: c } = await wxTenant(other.ctx);
      for (let i = 0; i < 2; i++) {
        const err = await getAccessToken(other.ctx, { tenantId: t, kind: 'oa' }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WechatApiError);
        expect((err as WechatApiError).errcode).toBe(-1);
        expect((err as WechatApiError).message).not.toContain(c.oa.appSecret);
      }
      const row = await other.ctx.db.selectFrom('wechat_access_tokens').selectAll().where('tenant_id', '=', t).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ lease_holder: null, lease_until: null, last_errcode: -1, token_enc: null });
      expect(other.logs.join('\n')).not.toContain(c.oa.appSecret);
      expect(other.logs.join('\n')).toContain('access_token fetch failed');
    } finally {
      await other.close();
    }
  });
});

describe('template and customer-service messages', () => {
  it("sends a template message and answers WeChat's msgid digit for digit", async () => {
    const { msgid } = await sendTemplateMessage(server, tenantId, { touser: user.openid, templateId: TEMPLATE, url: 'https://bank.example/bills/1', data });
    const inbox = await http('GET', `${platform.sandbox.url}/sandbox/api/template-messages?openid=${user.openid}&limit=1`);
    expect(inbox.body[0]).toMatchObject({ openid: user.openid, templateId: TEMPLATE, data, url: 'https://bank.example/bills/1', msgid });
    expect(msgid).toMatch(/^\d{19}$/);
  });

  it('sends once per client_msg_id within 10 minutes', async () => {
    const a = await sendTemplateMessage(server, tenantId, { touser: user.openid, templateId: TEMPLATE, data, clientMsgId: 'alert-42' });
    const b = await sendTemplateMessage(server, tenantId, { touser: user.openid, templateId: TEMPLATE, data, clientMsgId: 'alert-42' });
    expect(b.msgid).toBe(a.msgid);
  });

  it('gets 43004 for a user who unfollowed, and 40003 for an openid of another app', async () => {
    const quitter = await sandboxUser(platform.sandbox.url, tenantId);
    await http('POST', `${platform.sandbox.url}/sandbox/api/users/${quitter.openid}/subscription`, { subscribed: false });
    expect(await errcodeOf(sendTemplateMessage(server, tenantId, { touser: quitter.openid, templateId: TEMPLATE, data }))).toBe(43004);
    expect(await errcodeOf(sendTemplateMessage(server, tenantId, { touser: user.miniProgramOpenid, templateId: TEMPLATE, data }))).toBe(40003);
  });

  it('refuses a malformed message before calling WeChat', async () => {
    expect(await errcodeOf(sendTemplateMessage(server, tenantId, { touser: user.openid, templateId: TEMPLATE, data: { k: { value: '' } } }))).toBe('validation_failed');
    expect(await errcodeOf(sendCustomText(server, tenantId, user.openid, 'x'.repeat(3000)))).toBe('validation_failed');
  });

  it('sends a customer-service text within 48 hours of the last interaction, 45015 after', async () => {
    const u = await sandboxUser(platform.sandbox.url, tenantId);
    await sendCustomText(server, tenantId, u.openid, '您的余额是 ¥1,024.00');
    const inbox = await http('GET', `${platform.sandbox.url}/sandbox/api/custom-messages?openid=${u.openid}`);
    expect(inbox.body).toEqual([{ openid: u.openid, msgtype: 'text', content: '您的余额是 ¥1,024.00', sentAt: clock.now().toISOString() }]);
    clock.advance(48 * 3600_000 + 1000);
    expect(await errcodeOf(sendCustomText(server, tenantId, u.openid, '还在吗'))).toBe(45015);
  });
});

describe('mini-program', () => {
  it('sends a subscribe message only while the user has an acceptance left (43101 otherwise)', async () => {
    const msg = { touser: user.miniProgramOpenid, templateId: 'tpl_TopupDone', page: 'pages/topup/detail?id=1', data: { thing1: { value: '充值成功' } } };
    expect(await errcodeOf(sendSubscribeMessage(server, tenantId, msg))).toBe(43101);
    await http('POST', `${platform.sandbox.url}/sandbox/api/users/${user.openid}/subscribe-grants`, { templateId: 'tpl_TopupDone' });
    await sendSubscribeMessage(server, tenantId, msg);
    expect(await errcodeOf(sendSubscribeMessage(server, tenantId, msg))).toBe(43101);
    const inbox = await http('GET', `${platform.sandbox.url}/sandbox/api/subscribe-messages?openid=${user.miniProgramOpenid}`);
    expect(inbox.body).toHaveLength(1);
    expect(inbox.body[0]).toMatchObject({ templateId: 'tpl_TopupDone', page: 'pages/topup/detail?id=1', data: msg.data });
  });

  it('exchanges a wx.login code for the mini-program openid and unionid; a reused code is invalid_code', async () => {
    const code = await loginCode(platform.sandbox.url, user.openid, creds.miniProgram.appId);
    const s = await code2Session(server, tenantId, code);
    registerSensitive(s.sessionKey);
    expect(s).toMatchObject({ openid: user.miniProgramOpenid, unionid: user.unionid });
    const again = await code2Session(server, tenantId, code).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(WechatApiError);
    expect((again as WechatApiError).errcode).toBe(40163);
    expect((again as WechatApiError).toAppError().code).toBe('unauthenticated');
    expect(await errcodeOf(code2Session(server, tenantId, 'bad code!'))).toBe('validation_failed');
  });

  it('opens encrypted data with the session key, and not after wx.login rotated it', async () => {
    const s = await code2Session(server, tenantId, await loginCode(platform.sandbox.url, user.openid, creds.miniProgram.appId));
    registerSensitive(s.sessionKey);
    const enc = (await http('POST', `${platform.sandbox.url}/sandbox/api/users/${user.openid}/encrypted-data`, { kind: 'phone' })).body;
    expect(decryptUserData(creds.miniProgram.appId, s.sessionKey, enc.encryptedData, enc.iv)).toMatchObject({ phoneNumber: PHONE, countryCode: '86', watermark: { appid: creds.miniProgram.appId } });
    await loginCode(platform.sandbox.url, user.openid, creds.miniProgram.appId);
    const stale = await http('POST', `${platform.sandbox.url}/sandbox/api/users/${user.openid}/encrypted-data`, { kind: 'userInfo' });
    expect(() => decryptUserData(creds.miniProgram.appId, s.sessionKey, stale.body.encryptedData, stale.body.iv)).toThrow(/log in again/);
  });

  it('reads the phone behind a getPhoneNumber code, once', async () => {
    const { code } = (await http('POST', `${platform.sandbox.url}/sandbox/api/users/${user.openid}/phone-code`, {})).body;
    expect(await getUserPhoneNumber(server, tenantId, code)).toEqual({ phoneNumber: PHONE, purePhoneNumber: PHONE, countryCode: '86' });
    expect(await errcodeOf(getUserPhoneNumber(server, tenantId, code))).toBe(40163);
  });
});

describe('OA web authorisation', () => {
  it('exchanges a web-auth code for the OA openid; unionid only with snsapi_userinfo', async () => {
    const base = await exchangeOAuthCode(server, tenantId, await loginCode(platform.sandbox.url, user.openid, creds.oa.appId));
    expect(base).toEqual({ openid: user.openid, scope: 'snsapi_base' });
    const info = await exchangeOAuthCode(server, tenantId, await loginCode(platform.sandbox.url, user.openid, creds.oa.appId, 'snsapi_userinfo'));
    expect(info).toEqual({ openid: user.openid, unionid: user.unionid, scope: 'snsapi_userinfo' });
  });

  it('follows the authorize page redirect back to the server and exchanges the code', async () => {
    const q = new URLSearchParams({ appid: creds.oa.appId, redirect_uri: `${platform.servers[0]!.url}/h5/`, response_type: 'code', scope: 'snsapi_base', state: 's1', sandbox_openid: user.openid });
    const res = await fetch(`${server.config.wechat.openBase}/connect/oauth2/authorize?${q}`, { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    expect((await exchangeOAuthCode(server, tenantId, code)).openid).toBe(user.openid);
  });
});
