// The sandbox's users, codes, SMS outbox and authorize page over HTTP: per-app openids, single-use 5-minute codes, problem+json on bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxSendSms, sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { openTestDb, type TestDb } from '../../../helpers/db.ts';
import { startServer, type RunningServer } from '../../../helpers/platform.ts';
import { startTestApp } from '../../../helpers/app.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { http, loginCode, MINUTE_MS, sandboxUser, wxTenant, type AppCredentials } from '../../wechat/api/fixtures.ts';

let db: TestDb;
let sandbox: RunningServer;
const clock = new ManualClock('2026-03-02T01:00:00Z');
let tenantId: string;
let creds: AppCredentials;

const PHONE = '13912345678';
registerSensitive(PHONE, '13800001111');

const jscode2session = (code: string, appid = creds.miniProgram.appId, secret = creds.miniProgram.appSecret) =>
  http('GET', `${sandbox.url}/sandbox/wx/sns/jscode2session?${new URLSearchParams({ appid, secret, js_code: code, grant_type: 'authorization_code' })}`);

beforeAll(async () => {
  db = await openTestDb();
  sandbox = await startServer({ modules: [sandboxWxRoutes], dbHandle: db, clock });
  ({ tenantId, creds } = await wxTenant(sandbox.ctx));
}, 60_000);

afterAll(async () => {
  await sandbox?.close();
  await db?.close();
});

describe('users', () => {
  it('gives one person a different openid per app and one unionid, as WeChat does', async () => {
    const u = await sandboxUser(sandbox.url, tenantId);
    expect(u.openid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    expect(u.miniProgramOpenid).not.toBe(u.openid);
    const byMini = await http('GET', `${sandbox.url}/sandbox/api/users/${u.miniProgramOpenid}`);
    expect(byMini.body).toMatchObject({ tenantId, openid: u.openid, unionid: u.unionid, miniProgramOpenid: u.miniProgramOpenid, subscribed: true, maskedPhone: null });
    const other = await sandboxUser(sandbox.url, tenantId);
    expect(other.unionid).not.toBe(u.unionid);
  });

  it('stores the phone encrypted and shows it masked', async () => {
    const u = await sandboxUser(sandbox.url, tenantId, PHONE);
    expect((await http('GET', `${sandbox.url}/sandbox/api/users/${u.openid}`)).body.maskedPhone).toBe('139****5678');
    const row = await sandbox.ctx.db.selectFrom('sandbox_wx_users').selectAll().where('unionid', '=', u.unionid).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(PHONE);
  });

  it.each([
    ['no tenantId', {}, 400, 'validation_failed'],
    ['a malformed tenantId', { tenantId: 'Not A Slug' }, 400, 'validation_failed'],
    ['an unknown field', { tenantId: 'abc', nickname: 'x' }, 400, 'validation_failed'],
    ['a malformed phone', { tenantId: 'abc-bank', phone: '12345678901' }, 400, 'validation_failed'],
    ['an unknown tenant', { tenantId: 'no-such-bank' }, 404, 'not_found'],
  ])('refuses %s with problem+json', async (_name, body, status, code) => {
    const r = await http('POST', `${sandbox.url}/sandbox/api/users`, body);
    expect(r.status).toBe(status);
    expect(r.contentType).toMatch(/^application\/problem\+json/);
    expect(r.body.code).toBe(code);
  });

  it('refuses malformed JSON with problem+json 400, and unknown users with 404', async () => {
    const r = await http('POST', `${sandbox.url}/sandbox/api/users`, undefined, '{"tenantId":');
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('validation_failed');
    expect((await http('GET', `${sandbox.url}/sandbox/api/users/oNoSuchUser000000000000000000`)).status).toBe(404);
    expect((await http('POST', `${sandbox.url}/sandbox/api/users/oNoSuchUser/login-code`, { appId: creds.oa.appId })).status).toBe(404);
  });
});

describe('wx.login codes and jscode2session', () => {
  it('exchanges a code once for the mini-program openid, the unionid and a session key', async () => {
    const u = await sandboxUser(sandbox.url, tenantId);
    const code = await loginCode(sandbox.url, u.openid, creds.miniProgram.appId);
    const r = await jscode2session(code);
    registerSensitive(r.body.session_key);
    expect(r.body).toEqual({ session_key: expect.stringMatching(/^[A-Za-z0-9+/]{22}==$/), openid: u.miniProgramOpenid, unionid: u.unionid });
    expect((await jscode2session(code)).body.errcode).toBe(40163);
  });

  it('lets a code lapse after 5 minutes (40029)', async () => {
    const u = await sandboxUser(sandbox.url, tenantId);
    const code = await loginCode(sandbox.url, u.openid, creds.miniProgram.appId);
    clock.advance(5 * MINUTE_MS);
    expect((await jscode2session(code)).body.errcode).toBe(40029);
  });

  it("refuses an OA web-auth code, another tenant's app, a wrong secret and the OA appid", async () => {
    const u = await sandboxUser(sandbox.url, tenantId);
    const oauth = await loginCode(sandbox.url, u.openid, creds.oa.appId);
    expect((await jscode2session(oauth)).body.errcode).toBe(40029);
    const mini = await loginCode(sandbox.url, u.openid, creds.miniProgram.appId);
    expect((await jscode2session(mini, creds.miniProgram.appId, creds.oa.appSecret)).body.errcode).toBe(40125);
    expect((await jscode2session(mini, creds.oa.appId, creds.oa.appSecret)).body.errcode).toBe(40013);
    const other = await wxTenant(sandbox.ctx);
    expect((await jscode2session(mini, other.creds.miniProgram.appId, other.creds.miniProgram.appSecret)).body.errcode).toBe(40029);
    // Still unspent after all those refusals.
    expect((await jscode2session(mini)).body.openid).toBe(u.miniProgramOpenid);
  });

  it("refuses a login code for an app that is not the user's tenant's (problem+json 400)", async () => {
    const u = await sandboxUser(sandbox.url, tenantId);
    const other = await wxTenant(sandbox.ctx);
    const r = await http('POST', `${sandbox.url}/sandbox/api/users/${u.openid}/login-code`, { appId: other.creds.miniProgram.appId });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].field).toBe('appId');
    expect((await http('POST', `${sandbox.url}/sandbox/api/users/${u.openid}/login-code`, { appId: 'nope' })).status).toBe(400);
  });
});

describe('SMS outbox', () => {
  it('lists the texts sent to a phone newest first, with the code they carried', async () => {
    await sandboxSendSms(sandbox.ctx, { phone: PHONE, text: '【测试银行】验证码 482913，5 分钟内有效。', code: '482913' });
    await sandboxSendSms(sandbox.ctx, { phone: '+86 139-1234-5678', text: '【测试银行】您的卡已绑定。' });
    await sandboxSendSms(sandbox.ctx, { phone: '13800001111', text: 'other' });
    const r = await http('GET', `${sandbox.url}/sandbox/api/sms?phone=${PHONE}`);
    expect(r.status).toBe(200);
    expect(r.body.map((s: { text: string }) => s.text)).toEqual(['【测试银行】您的卡已绑定。', '【测试银行】验证码 482913，5 分钟内有效。']);
    expect(r.body[0]).toMatchObject({ phone: PHONE, code: null });
    expect(r.body[1]).toMatchObject({ phone: PHONE, code: '482913', sentAt: clock.now().toISOString() });
  });

  it('keeps phone, text and code encrypted at rest', async () => {
    const rows = await sandbox.ctx.db.selectFrom('sandbox_wx_sms').selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toMatch(/13912345678|482913|验证码/);
  });

  it('refuses a malformed phone, with problem+json 400 over HTTP and validation_failed in code', async () => {
    const r = await http('GET', `${sandbox.url}/sandbox/api/sms?phone=12345`);
    expect(r.status).toBe(400);
    expect(r.contentType).toMatch(/problem\+json/);
    expect((await http('GET', `${sandbox.url}/sandbox/api/sms`)).status).toBe(400);
    await expect(sandboxSendSms(sandbox.ctx, { phone: 'abc', text: 'x' })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(sandboxSendSms(sandbox.ctx, { phone: PHONE, text: '' })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('web authorisation page', () => {
  const authorize = (q: Record<string, string>) => http('GET', `${sandbox.url}/sandbox/open/connect/oauth2/authorize?${new URLSearchParams(q)}`);
  const base = () => ({ appid: creds.oa.appId, redirect_uri: `${sandbox.ctx.config.sandboxServerUrl}/h5/cards?x=1`, response_type: 'code', scope: 'snsapi_base', state: 'abc123' });

  it('redirects the chosen user back to redirect_uri with a code and the state', async () => {
    const u = await sandboxUser(sandbox.url, tenantId);
    const res = await fetch(`${sandbox.url}/sandbox/open/connect/oauth2/authorize?${new URLSearchParams({ ...base(), sandbox_openid: u.openid })}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get('location')!);
    expect(`${to.origin}${to.pathname}`).toBe(`${sandbox.ctx.config.sandboxServerUrl}/h5/cards`);
    expect(to.searchParams.get('x')).toBe('1');
    expect(to.searchParams.get('state')).toBe('abc123');
    const code = to.searchParams.get('code')!;
    const exchange = await http('GET', `${sandbox.url}/sandbox/wx/sns/oauth2/access_token?${new URLSearchParams({ appid: creds.oa.appId, secret: creds.oa.appSecret, code, grant_type: 'authorization_code' })}`);
    registerSensitive(exchange.body.access_token, exchange.body.refresh_token);
    expect(exchange.body).toMatchObject({ openid: u.openid, scope: 'snsapi_base', expires_in: 7200 });
    expect(exchange.body.unionid).toBeUndefined();
  });

  it('without a chosen user, lists the tenant\'s users as links', async () => {
    const u = await sandboxUser(sandbox.url, tenantId);
    const r = await authorize(base());
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/text\/html/);
    expect(r.body).toContain(`sandbox_openid=${u.openid}`);
  });

  it.each([
    ['a redirect to a foreign host', { redirect_uri: 'https://evil.example/steal' }, 400],
    ['an unknown appid', { appid: 'wx0000000000000000' }, 400],
    ['the mini-program appid', {}, 400],
    ['a bad scope', { scope: 'snsapi_all' }, 400],
    ['a bad response_type', { response_type: 'token' }, 400],
    ['an unknown user', { sandbox_openid: 'oNoSuchUser' }, 404],
  ])('refuses %s with problem+json', async (name, patch, status) => {
    const q = { ...base(), ...(name === 'the mini-program appid' ? { appid: creds.miniProgram.appId } : {}), ...patch };
    const r = await authorize(q);
    expect(r.status).toBe(status);
    expect(r.contentType).toMatch(/problem\+json/);
  });
});

describe('sandbox off', () => {
  it('registers no sandbox route', async () => {
    const t = await startTestApp({ config: { SANDBOX: 'false' }, modules: [sandboxWxRoutes] });
    try {
      for (const url of ['/sandbox/api/users', '/sandbox/wx/cgi-bin/token', '/sandbox/wecom/cgi-bin/gettoken']) {
        const r = await t.app.inject({ method: url.endsWith('users') ? 'POST' : 'GET', url });
        expect(r.statusCode).toBe(404);
      }
    } finally {
      await t.close();
    }
  }, 60_000);
});
