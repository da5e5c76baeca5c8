// The sandbox token endpoints over HTTP: classic tokens retire 5 minutes after a newer fetch, stable and WeCom tokens repeat, WeChat's errcodes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { openTestDb, type TestDb } from '../../../helpers/db.ts';
import { startServer, type RunningServer } from '../../../helpers/platform.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';
import { http, MINUTE_MS, sandboxUser, tokenFetches, wxTenant, type AppCredentials } from '../../wechat/api/fixtures.ts';

let db: TestDb;
let sandbox: RunningServer;
const clock = new ManualClock('2026-03-02T01:00:00Z');
let tenantId: string;
let creds: AppCredentials;
let openid: string;

const classic = (appid: string, secret: string, grant = 'client_credential') =>
  http('GET', `${sandbox.url}/sandbox/wx/cgi-bin/token?${new URLSearchParams({ grant_type: grant, appid, secret })}`);
const stable = (body: unknown) => http('POST', `${sandbox.url}/sandbox/wx/cgi-bin/stable_token`, body);

async function token(appid = creds.oa.appId, secret = creds.oa.appSecret): Promise<string> {
  const r = await classic(appid, secret);
  expect(r.body.expires_in).toBe(7200);
  registerSensitive(r.body.access_token);
  return r.body.access_token;
}

/** What the platform says when the token is used: 0 (a template message goes out), or its errcode. */
async function use(accessToken: string): Promise<number> {
  const r = await http('POST', `${sandbox.url}/sandbox/wx/cgi-bin/message/template/send?access_token=${encodeURIComponent(accessToken)}`, {
    touser: openid,
    template_id: 'tpl_balance_change',
    data: { first: { value: '余额变动' } },
  });
  expect(r.status).toBe(200);
  return r.body.errcode;
}

beforeAll(async () => {
  db = await openTestDb();
  sandbox = await startServer({ modules: [sandboxWxRoutes], dbHandle: db, clock });
  ({ tenantId, creds } = await wxTenant(sandbox.ctx));
  openid = (await sandboxUser(sandbox.url, tenantId)).openid;
}, 60_000);

afterAll(async () => {
  await sandbox?.close();
  await db?.close();
});

describe('classic /cgi-bin/token', () => {
  it('answers {access_token, expires_in: 7200} without errcode, and the token works', async () => {
    const r = await classic(creds.oa.appId, creds.oa.appSecret);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['access_token', 'expires_in']);
    expect(r.body.access_token).toMatch(/^[A-Za-z0-9_-]{128}$/);
    registerSensitive(r.body.access_token);
    expect(await use(r.body.access_token)).toBe(0);
    // msgid is a bare 19-digit number, past 2^53, as WeChat answers it.
    const raw = await fetch(`${sandbox.url}/sandbox/wx/cgi-bin/message/template/send?access_token=${r.body.access_token}`, {
      method: 'POST',
      body: JSON.stringify({ touser: openid, template_id: 'tpl_x', data: { a: { value: 'b' } } }),
    });
    expect(await raw.text()).toMatch(/^\{"errcode":0,"errmsg":"ok","msgid":[1-9]\d{18}\}$/);
  });

  it('keeps the previous token working for 5 minutes after a newer fetch, then answers 40001', async () => {
    const first = await token();
    const second = await token();
    clock.advance(5 * MINUTE_MS - 1000);
    expect(await use(first)).toBe(0);
    clock.advance(1000);
    expect(await use(first)).toBe(40001);
    expect(await use(second)).toBe(0);
  });

  it('answers 42001 for a token past its 2 hours', async () => {
    const t = await token();
    clock.advance(7200 * 1000);
    expect(await use(t)).toBe(42001);
  });

  it('answers the errcodes WeChat gives for a bad request, with HTTP 200 and a request id', async () => {
    const cases: [string, number][] = [
      [`grant_type=password&appid=${creds.oa.appId}&secret=${creds.oa.appSecret}`, 40002],
      [`grant_type=client_credential&secret=${creds.oa.appSecret}`, 41002],
      [`grant_type=client_credential&appid=${creds.oa.appId}`, 41004],
      [`grant_type=client_credential&appid=wx0000000000000000&secret=${creds.oa.appSecret}`, 40013],
      [`grant_type=client_credential&appid=${creds.oa.appId}&secret=${creds.miniProgram.appSecret}`, 40125],
    ];
    for (const [q, errcode] of cases) {
      const r = await http('GET', `${sandbox.url}/sandbox/wx/cgi-bin/token?${q}`);
      expect(r.status).toBe(200);
      expect(r.body.errcode).toBe(errcode);
      expect(r.body.errmsg).toMatch(/ rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      expect(r.body.access_token).toBeUndefined();
    }
  });

  it('issues mini-program tokens that the OA APIs refuse with 48001', async () => {
    const t = await token(creds.miniProgram.appId, creds.miniProgram.appSecret);
    expect(await use(t)).toBe(48001);
  });

  it('answers 41001 without access_token and 40001 for a token it never issued', async () => {
    const r = await http('POST', `${sandbox.url}/sandbox/wx/cgi-bin/message/template/send`, { touser: openid });
    expect(r.body.errcode).toBe(41001);
    expect(await use('x'.repeat(128))).toBe(40001);
  });
});

describe('stable /cgi-bin/stable_token', () => {
  const body = (force?: boolean) => ({ grant_type: 'client_credential', appid: creds.miniProgram.appId, secret: creds.miniProgram.appSecret, ...(force === undefined ? {} : { force_refresh: force }) });

  it('answers the same token until its last 5 minutes, then a new one while the old works to its end', async () => {
    const a = await stable(body());
    registerSensitive(a.body.access_token);
    clock.advance(30 * MINUTE_MS);
    const b = await stable(body(false));
    expect(b.body.access_token).toBe(a.body.access_token);
    expect(b.body.expires_in).toBe(7200 - 30 * 60);
    clock.advance(7200 * 1000 - 30 * MINUTE_MS - 5 * MINUTE_MS);
    const c = await stable(body());
    registerSensitive(c.body.access_token);
    expect(c.body.access_token).not.toBe(a.body.access_token);
    expect(c.body.expires_in).toBe(7200);
  });

  it('is not disturbed by classic fetches of the same app', async () => {
    const a = await stable(body());
    await token(creds.miniProgram.appId, creds.miniProgram.appSecret);
    clock.advance(6 * MINUTE_MS);
    expect((await stable(body())).body.access_token).toBe(a.body.access_token);
  });

  it('force_refresh issues a new token, kills the old one at once, and refuses a second force within 30 s (45011)', async () => {
    const old = (await stable(body())).body.access_token;
    clock.advance(MINUTE_MS);
    const forced = await stable(body(true));
    registerSensitive(forced.body.access_token);
    expect(forced.body.access_token).not.toBe(old);
    const oaUse = await http('POST', `${sandbox.url}/sandbox/wx/cgi-bin/message/subscribe/send?access_token=${old}`, { touser: 'x' });
    expect(oaUse.body.errcode).toBe(40001);
    expect((await stable(body(true))).body.errcode).toBe(45011);
    clock.advance(30_000);
    expect((await stable(body(true))).body.access_token).toBeDefined();
  });

  it('answers 47001 for malformed JSON or a non-boolean force_refresh, 44002 for an empty body', async () => {
    expect((await http('POST', `${sandbox.url}/sandbox/wx/cgi-bin/stable_token`, undefined, '{"grant_type":')).body.errcode).toBe(47001);
    expect((await http('POST', `${sandbox.url}/sandbox/wx/cgi-bin/stable_token`, undefined, '[]')).body.errcode).toBe(47001);
    expect((await stable({ ...body(), force_refresh: 'yes' })).body.errcode).toBe(47001);
    expect((await http('POST', `${sandbox.url}/sandbox/wx/cgi-bin/stable_token`, undefined, '')).body.errcode).toBe(44002);
    expect((await stable({ ...body(), secret: 'wrongwrongwrongwrong' })).body.errcode).toBe(40125);
  });
});

describe('WeCom /cgi-bin/gettoken', () => {
  const get = (q: string) => http('GET', `${sandbox.url}/sandbox/wecom/cgi-bin/gettoken?${q}`);

  it('answers the same token while it is valid, a new one after it expires', async () => {
    const a = await get(`corpid=${creds.wecom.corpId}&corpsecret=${creds.wecom.secret}`);
    registerSensitive(a.body.access_token);
    expect(a.body).toMatchObject({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    clock.advance(10 * MINUTE_MS);
    const b = await get(`corpid=${creds.wecom.corpId}&corpsecret=${creds.wecom.secret}`);
    expect(b.body.access_token).toBe(a.body.access_token);
    expect(b.body.expires_in).toBe(7200 - 600);
    clock.advance(7200 * 1000);
    const c = await get(`corpid=${creds.wecom.corpId}&corpsecret=${creds.wecom.secret}`);
    registerSensitive(c.body.access_token);
    expect(c.body.access_token).not.toBe(a.body.access_token);
  });

  it("answers WeCom's errcodes for a missing or unknown corp and a wrong secret", async () => {
    expect((await get(`corpsecret=${creds.wecom.secret}`)).body.errcode).toBe(41002);
    expect((await get(`corpid=${creds.wecom.corpId}`)).body.errcode).toBe(41004);
    expect((await get(`corpid=ww0000000000000000&corpsecret=${creds.wecom.secret}`)).body.errcode).toBe(40013);
    expect((await get(`corpid=${creds.wecom.corpId}&corpsecret=${'a'.repeat(43)}`)).body.errcode).toBe(40001);
  });
});

describe('token record and fault switch', () => {
  it('counts every fetch of an app and lists its tokens without their values', async () => {
    const { creds: c } = await wxTenant(sandbox.ctx);
    for (let i = 0; i < 3; i++) await token(c.oa.appId, c.oa.appSecret);
    await stable({ grant_type: 'client_credential', appid: c.oa.appId, secret: c.oa.appSecret });
    await stable({ grant_type: 'client_credential', appid: c.oa.appId, secret: c.oa.appSecret });
    expect(await tokenFetches(sandbox.url, c.oa.appId)).toBe(5);
    const r = await http('GET', `${sandbox.url}/sandbox/api/tokens?appId=${c.oa.appId}`);
    expect(r.body.tokens.map((t: { endpoint: string }) => t.endpoint).sort()).toEqual(['classic', 'classic', 'classic', 'stable']);
    expect(JSON.stringify(r.body)).not.toMatch(/access_token|[A-Za-z0-9_-]{100}/);
  });

  it('revoke makes every working token of the app answer 40001 at once', async () => {
    const t = await token();
    expect(await use(t)).toBe(0);
    const r = await http('POST', `${sandbox.url}/sandbox/api/tokens/revoke`, { appId: creds.oa.appId });
    expect(r.status).toBe(200);
    expect(r.body.revoked).toBeGreaterThanOrEqual(1);
    expect(await use(t)).toBe(40001);
  });

  it('refuses a malformed appId with problem+json 400', async () => {
    const r = await http('GET', `${sandbox.url}/sandbox/api/tokens?appId=nope`);
    expect(r.status).toBe(400);
    expect(r.contentType).toMatch(/application\/problem\+json/);
    expect(r.body.code).toBe('validation_failed');
    expect((await http('POST', `${sandbox.url}/sandbox/api/tokens/revoke`, {})).status).toBe(400);
  });
});

describe('message API checks', () => {
  const send = async (path: string, accessToken: string, body: unknown, raw?: string) =>
    (await http('POST', `${sandbox.url}/sandbox/wx${path}?access_token=${encodeURIComponent(accessToken)}`, body, raw)).body;

  it("answers WeChat's errcodes for a malformed template, customer-service or phone request", async () => {
    const oa = await token();
    const mini = await token(creds.miniProgram.appId, creds.miniProgram.appSecret);
    const tpl = '/cgi-bin/message/template/send';
    expect((await send(tpl, oa, { touser: openid, data: { a: { value: 'b' } } })).errcode).toBe(40037);
    const empty = await send(tpl, oa, { touser: openid, template_id: 't1', data: { first: { value: '' } } });
    expect(empty.errcode).toBe(47003);
    expect(empty.errmsg).toMatch(/^argument invalid! data\.first\.value is empty rid: /);
    expect((await send(tpl, oa, { touser: 'oNoSuchUser', template_id: 't1', data: { a: { value: 'b' } } })).errcode).toBe(40003);
    expect((await send(tpl, oa, undefined, '{"touser":')).errcode).toBe(47001);
    expect((await send(tpl, oa, undefined, '')).errcode).toBe(44002);
    expect((await send('/cgi-bin/message/custom/send', oa, { touser: openid, msgtype: 'image', image: { media_id: 'm' } })).errcode).toBe(40008);
    const phone = '/wxa/business/getuserphonenumber';
    expect((await send(phone, oa, { code: 'c'.repeat(64) })).errcode).toBe(48001);
    expect((await send(phone, mini, {})).errcode).toBe(41008);
    expect((await send(phone, mini, { code: 'c'.repeat(64) })).errcode).toBe(40029);
  });
});
