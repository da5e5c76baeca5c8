// The OA endpoint end to end: URL verification, the published vectors, all three modes with @wecom/crypto and wechat-crypto as WeChat, replies, refusals with no state change.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
// @ts-expect-error wechat-crypto ships no types
import WXBizMsgCrypt from 'wechat-crypto';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { oaServer, HELP_TEXT, NOT_UNDERSTOOD_TEXT, type OaInbound, type OaReply } from '../../../../src/wechat/oa/index.ts';
import { defaultReply } from '../../../../src/wechat/oa/default-handler.ts';
import { urlSignature } from '../../../../src/wechat/crypto/msg-crypto.ts';
import type { OaCredentials } from '../../../../src/tenants/index.ts';
import { createOaTenant, eventXml, nextMsgId, openReply, randomOa, textXml, wechatRequest, xmlElement, type WechatRequest } from './helpers.ts';

/** Opening a migrated PGlite on a loaded machine can take a while. */
const STARTUP_TIMEOUT_MS = 60_000;

let t: TestApp;
const clock = new ManualClock('2026-03-02T08:00:00Z');
const calls: OaInbound[] = [];
let answer: (msg: OaInbound) => Promise<OaReply | undefined> = async (msg) => defaultReply(msg);

beforeAll(async () => {
  t = await startTestApp({
    clock,
    modules: [
      oaServer({
        onMessage: async (_ctx, msg) => {
          calls.push(msg);
          return answer(msg);
        },
      }),
    ],
  });
}, STARTUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});
beforeEach(() => {
  answer = async (msg) => defaultReply(msg);
});

const nowSec = () => Math.floor(clock.now().getTime() / 1000);

async function post(req: WechatRequest, contentType = 'text/xml') {
  const res = await t.app.inject({ method: 'POST', url: req.url, headers: { 'content-type': contentType }, payload: req.body });
  return { status: res.statusCode, body: res.body, type: String(res.headers['content-type'] ?? '') };
}

async function stateCounts() {
  const m = await t.ctx.db.selectFrom('oa_messages').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const o = await t.ctx.db.selectFrom('outbox').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return { messages: Number(m.n), outbox: Number(o.n), calls: calls.length };
}

/** Runs `fn` and checks it changed nothing: no claim, no job, no handler call. */
async function unchanged(fn: () => Promise<void>): Promise<void> {
  const before = await stateCounts();
  await fn();
  expect(await stateCounts()).toEqual(before);
}

describe('URL verification (GET)', () => {
  it('echoes echostr for the official vector (Token AAAAA) and refuses a wrong signature with 401 problem+json', async () => {
    const { tenantId } = await createOaTenant(t.ctx, randomOa('safe', { token: 'AAAAA' }));
    const ok = await t.app.inject({ url: `/wechat/oa/${tenantId}?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&echostr=4375120948345356249&timestamp=1714036504&nonce=1514711492` });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('4375120948345356249');
    expect(ok.headers['content-type']).toMatch(/^text\/plain/);
    const bad = await t.app.inject({ url: `/wechat/oa/${tenantId}?signature=${'0'.repeat(40)}&echostr=4375120948345356249&timestamp=1714036504&nonce=1514711492` });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(bad.json()).toMatchObject({ code: 'unauthenticated' });
    expect(bad.body).not.toContain('4375120948345356249');
  });

  it('answers 404 problem+json for an unknown tenant and 400 for a missing parameter', async () => {
    const r = await t.app.inject({ url: `/wechat/oa/no-such-tenant?signature=${'0'.repeat(40)}&echostr=1&timestamp=1&nonce=1` });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'not_found' });
    const { tenantId } = await createOaTenant(t.ctx, randomOa('plain'));
    expect((await t.app.inject({ url: `/wechat/oa/${tenantId}?echostr=1&timestamp=1&nonce=1` })).statusCode).toBe(400);
  });
});

describe('published vectors through the endpoint', () => {
  it('answers the official plain-mode push (Token AAAAA, the official text sample) with a passive text reply', async () => {
    const { tenantId } = await createOaTenant(t.ctx, randomOa('plain', { token: 'AAAAA', originalId: undefined }));
    clock.set(1714037059_000);
    const body = '<xml>\n<ToUserName><![CDATA[toUser]]></ToUserName>\n<FromUserName><![CDATA[fromUser]]></FromUserName>\n<CreateTime>1348831860</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[this is a test]]></Content>\n<MsgId>1234567890123456</MsgId>\n</xml>';
    const r = await post({ url: `/wechat/oa/${tenantId}?signature=899cf89e464efb63f54ddac96b0a0a235f53aa78&timestamp=1714037059&nonce=486452656`, body });
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/xml/);
    expect(r.body).toBe(
      `<xml><ToUserName><![CDATA[fromUser]]></ToUserName><FromUserName><![CDATA[toUser]]></FromUserName><CreateTime>1714037059</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${NOT_UNDERSTOOD_TEXT}]]></Content></xml>`,
    );
  });

  it('decrypts the official safe-mode push (V1, JSON) and answers in the same format, encrypted', async () => {
    const oa = randomOa('safe', { token: 'AAAAA', encodingAESKey: 'A'.repeat(43), appId: 'wxba5fad812f8e6fb9', originalId: 'gh_97417a04a28d' });
    const { tenantId } = await createOaTenant(t.ctx, oa);
    clock.set(1714112445_000);
    const q = 'signature=6c5c811b55cc85e0e1b54100749188c20beb3f5d&timestamp=1714112445&nonce=415670741&openid=o9AgO5Kd5ggOC-bXrbNODIiE3bGY&encrypt_type=aes&msg_signature=046e02f8204d34f8ba5fa3b1db94908f3df2e9b3';
    const body =
      '{"ToUserName":"gh_97417a04a28d","Encrypt":"+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="}';
    answer = async () => ({ type: 'text', content: 'good luck' });
    const r = await post({ url: `/wechat/oa/${tenantId}?${q}`, body }, 'application/json');
    expect(r.status).toBe(200);
    expect(calls.at(-1)).toMatchObject({ msgType: 'other', rawEvent: 'debug_demo', openid: 'o9AgO5Kd5ggOC-bXrbNODIiE3bGY' });
    const env = JSON.parse(r.body) as { Encrypt: string; MsgSignature: string; TimeStamp: number; Nonce: string };
    const peer = new WXBizMsgCrypt('AAAAA', 'A'.repeat(43), 'wxba5fad812f8e6fb9');
    expect(peer.getSignature(String(env.TimeStamp), env.Nonce, env.Encrypt)).toBe(env.MsgSignature);
    expect(JSON.parse(peer.decrypt(env.Encrypt).message)).toMatchObject({ ToUserName: 'o9AgO5Kd5ggOC-bXrbNODIiE3bGY', FromUserName: 'gh_97417a04a28d', MsgType: 'text', Content: 'good luck' });
  });

  it('decrypts EasyWeChat’s safe-mode XML push (V2) and its reply opens with wechat-crypto', async () => {
    const { tenantId } = await createOaTenant(t.ctx, randomOa('safe', { token: 'pamtest', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', appId: 'wxb11529c136998cb6', originalId: undefined }));
    clock.set(1458300676_000);
    const enc =
      'rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==';
    const q = new URLSearchParams({ signature: urlSignature('pamtest', '1458300676', '260774613'), timestamp: '1458300676', nonce: '260774613', encrypt_type: 'aes', msg_signature: '4f3ad57b6989f09f4eb392acce4f9e93942ed890' });
    const r = await post({ url: `/wechat/oa/${tenantId}?${q}`, body: `<xml>\n    <ToUserName><![CDATA[asdasdasd]]></ToUserName>\n    <Encrypt><![CDATA[${enc}]]></Encrypt>\n</xml>` });
    expect(r.status).toBe(200);
    expect(calls.at(-1)).toMatchObject({ msgType: 'text', content: 'hello', msgId: '12345', openid: 'asdasdasdsadasd' });
    const peer = new WXBizMsgCrypt('pamtest', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wxb11529c136998cb6');
    const encrypt = xmlElement(r.body, 'Encrypt')!;
    expect(peer.getSignature(xmlElement(r.body, 'TimeStamp'), xmlElement(r.body, 'Nonce'), encrypt)).toBe(xmlElement(r.body, 'MsgSignature'));
    const inner = peer.decrypt(encrypt).message as string;
    expect(xmlElement(inner, 'ToUserName')).toBe('asdasdasdsadasd');
    expect(xmlElement(inner, 'FromUserName')).toBe('asdasdasd');
    expect(xmlElement(inner, 'Content')).toBe(NOT_UNDERSTOOD_TEXT);
  });
});

describe('modes and replies, with @wecom/crypto as WeChat', () => {
  it.each(['safe', 'compatible', 'plain'] as const)('answers 帮助 in %s mode with the help text, encrypted unless plain', async (mode) => {
    clock.set('2026-03-02T08:00:00Z');
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa(mode));
    const r = await post(wechatRequest(tenantId, oa, textXml(oa, 'oUser1', '帮助', nextMsgId(), nowSec()), { timestamp: nowSec(), openid: 'oUser1' }));
    expect(r.status).toBe(200);
    const inner = mode === 'plain' ? r.body : openReply(oa, r.body);
    expect(xmlElement(inner, 'MsgType')).toBe('text');
    expect(xmlElement(inner, 'Content')).toBe(HELP_TEXT);
    expect(xmlElement(inner, 'ToUserName')).toBe('oUser1');
    expect(xmlElement(inner, 'FromUserName')).toBe(oa.originalId);
    expect(xmlElement(inner, 'CreateTime')).toBe(String(nowSec()));
  });

  it('accepts a plain push to a compatible-mode account and answers it in plain', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('compatible'));
    const r = await post(wechatRequest(tenantId, oa, textXml(oa, 'oUser2', 'help', nextMsgId(), nowSec()), { timestamp: nowSec(), mode: 'plain' }));
    expect(xmlElement(r.body, 'Content')).toBe(HELP_TEXT);
  });

  it('accepts a push encrypted by wechat-crypto (node-webot) as the sender', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    const peer = new WXBizMsgCrypt(oa.token, oa.encodingAESKey, oa.appId);
    const ts = String(nowSec());
    const encrypt = peer.encrypt(textXml(oa, 'oUser3', '帮助', nextMsgId(), nowSec())) as string;
    const q = new URLSearchParams({ signature: urlSignature(oa.token, ts, '77'), timestamp: ts, nonce: '77', encrypt_type: 'aes', msg_signature: peer.getSignature(ts, '77', encrypt) });
    const r = await post({ url: `/wechat/oa/${tenantId}?${q}`, body: `<xml><ToUserName><![CDATA[${oa.originalId}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>` });
    expect(xmlElement(openReply(oa, r.body), 'Content')).toBe(HELP_TEXT);
  });

  it('answers a menu click naming its key, a subscribe with the help text, and VIEW with success', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    const click = await post(wechatRequest(tenantId, oa, eventXml(oa, 'oUser4', 'CLICK', nowSec(), 'BALANCE'), { timestamp: nowSec() }));
    expect(xmlElement(openReply(oa, click.body), 'Content')).toContain('BALANCE');
    const sub = await post(wechatRequest(tenantId, oa, eventXml(oa, 'oUser4', 'subscribe', nowSec() + 1), { timestamp: nowSec() }));
    expect(xmlElement(openReply(oa, sub.body), 'Content')).toContain(HELP_TEXT);
    const view = await post(wechatRequest(tenantId, oa, eventXml(oa, 'oUser4', 'VIEW', nowSec() + 2, 'https://bank.example/h5'), { timestamp: nowSec() }));
    expect(view.body).toBe('success');
    expect(view.type).toMatch(/^text\/plain/);
  });

  it('sends a news reply with its articles, encrypted', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    answer = async () => ({ type: 'news', articles: [{ title: '账户余额', description: '尾号 8888', url: 'https://bank.example/b' }, { title: '交易明细', url: 'https://bank.example/s' }] });
    const r = await post(wechatRequest(tenantId, oa, textXml(oa, 'oUser5', '余额', nextMsgId(), nowSec()), { timestamp: nowSec() }));
    const inner = openReply(oa, r.body);
    expect(xmlElement(inner, 'MsgType')).toBe('news');
    expect(xmlElement(inner, 'ArticleCount')).toBe('2');
    expect(inner).toContain('<item><Title><![CDATA[账户余额]]></Title><Description><![CDATA[尾号 8888]]></Description><PicUrl><![CDATA[]]></PicUrl><Url><![CDATA[https://bank.example/b]]></Url></item>');
  });

  it('answers success, once, when the handler fails or builds an impossible reply (9 articles)', async () => {
    const { tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe'));
    answer = async () => ({ type: 'news', articles: Array(9).fill({ title: 'x' }) });
    const req = wechatRequest(tenantId, oa, textXml(oa, 'oUser6', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() });
    expect((await post(req)).body).toBe('success');
    answer = async () => {
      throw new Error('core down');
    };
    const n = calls.length;
    expect((await post(req)).body).toBe('success');
    expect(calls.length).toBe(n);
    const failing = wechatRequest(tenantId, oa, textXml(oa, 'oUser6', 'y', nextMsgId(), nowSec()), { timestamp: nowSec() });
    expect((await post(failing)).body).toBe('success');
    const row = await t.ctx.db.selectFrom('oa_messages').select('state').where('tenant_id', '=', tenantId).where('dedup_key', 'like', 'm:%').execute();
    expect(row.map((r) => r.state)).toEqual(['failed', 'failed']);
  });
});

describe('refusals change nothing', () => {
  let tenantId: string;
  let oa: OaCredentials;
  let good: WechatRequest;
  beforeAll(async () => {
    ({ tenantId, oa } = await createOaTenant(t.ctx, randomOa('safe')));
  });
  beforeEach(() => {
    clock.set('2026-03-02T09:00:00Z');
    good = wechatRequest(tenantId, oa, textXml(oa, 'oUser7', '帮助', nextMsgId(), nowSec()), { timestamp: nowSec() });
  });

  it('refuses a forged URL signature or msg_signature with 401', async () => {
    await unchanged(async () => {
      for (const param of ['signature', 'msg_signature']) {
        const url = good.url.replace(new RegExp(`([?&]${param}=)[0-9a-f]{40}`), `$1${'a'.repeat(40)}`);
        const r = await post({ ...good, url });
        expect(r.status).toBe(401);
        expect(JSON.parse(r.body)).toMatchObject({ code: 'unauthenticated' });
      }
    });
  });

  it('refuses a tampered Encrypt with 401', async () => {
    await unchanged(async () => {
      const body = good.body.replace(/<Encrypt><!\[CDATA\[(.)/, (_m, c: string) => `<Encrypt><![CDATA[${c === 'A' ? 'B' : 'A'}`);
      expect((await post({ ...good, body })).status).toBe(401);
    });
  });

  it('refuses a message encrypted for another app id with 403, though correctly signed', async () => {
    await unchanged(async () => {
      const r = await post(wechatRequest(tenantId, oa, textXml(oa, 'oUser7', '帮助', nextMsgId(), nowSec()), { timestamp: nowSec(), encryptFor: 'wx00000000000000ff' }));
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'forbidden' });
    });
  });

  it('refuses a push to another account (ToUserName), a plain push in safe mode, and a stale timestamp', async () => {
    await unchanged(async () => {
      const other = { ...oa, originalId: 'gh_000000000bad' };
      expect((await post(wechatRequest(tenantId, oa, textXml(other, 'oUser7', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() }))).status).toBe(403);
      expect((await post(wechatRequest(tenantId, oa, textXml(oa, 'oUser7', 'x', nextMsgId(), nowSec()), { timestamp: nowSec(), mode: 'plain' }))).status).toBe(403);
      expect((await post(wechatRequest(tenantId, oa, textXml(oa, 'oUser7', 'x', nextMsgId(), nowSec()), { timestamp: nowSec() - 3600 }))).status).toBe(401);
    });
  });

  it('answers 404 for an unknown tenant', async () => {
    await unchanged(async () => {
      const r = await post({ ...good, url: good.url.replace(tenantId, 'nobody-here') });
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'not_found' });
    });
  });

  it('refuses XML bombs and external entities, plain or inside the encryption, with 400', async () => {
    const plainTenant = await createOaTenant(t.ctx, randomOa('plain'));
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol2;</Content><MsgId>1</MsgId></xml>';
    const xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>';
    await unchanged(async () => {
      for (const inner of [bomb, xxe]) {
        for (const [tid, creds] of [[plainTenant.tenantId, plainTenant.oa], [tenantId, oa]] as const) {
          const r = await post(wechatRequest(tid, creds, inner, { timestamp: nowSec() }));
          expect(r.status).toBe(400);
          expect(JSON.parse(r.body)).toMatchObject({ code: 'validation_failed' });
          expect(r.body).not.toContain('passwd');
        }
      }
    });
  });

  it('refuses a 10 MB body with 413 before reading it into the parser', async () => {
    await unchanged(async () => {
      const r = await post({ ...good, body: `<xml><Content>${'x'.repeat(10 * 1024 * 1024)}</Content></xml>` });
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'payload_too_large' });
    });
  });

  it('refuses invalid UTF-8 and missing fields with 400 naming the problem', async () => {
    const plainTenant = await createOaTenant(t.ctx, randomOa('plain'));
    await unchanged(async () => {
      const ts = nowSec();
      const req = wechatRequest(plainTenant.tenantId, plainTenant.oa, 'x', { timestamp: ts });
      const badUtf8 = Buffer.concat([Buffer.from(`<xml><ToUserName>${plainTenant.oa.originalId}</ToUserName><FromUserName>o</FromUserName><CreateTime>${ts}</CreateTime><MsgType>text</MsgType><Content>`), Buffer.from([0xff, 0xfe]), Buffer.from('</Content><MsgId>1</MsgId></xml>')]);
      const r1 = await t.app.inject({ method: 'POST', url: req.url, headers: { 'content-type': 'text/xml' }, payload: badUtf8 });
      expect(r1.statusCode).toBe(400);
      expect(r1.json().detail).toMatch(/UTF-8/);
      const noFrom = `<xml><ToUserName>${plainTenant.oa.originalId}</ToUserName><CreateTime>${ts}</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>`;
      const r2 = await post({ url: req.url, body: noFrom });
      expect(r2.status).toBe(400);
      expect(JSON.parse(r2.body).errors).toEqual([{ field: 'FromUserName', message: 'is required' }]);
      const r3 = await post({ url: req.url, body: '' });
      expect(r3.status).toBe(400);
    });
  });
});
