// Authenticating and decoding OA pushes against the published vectors (WECHAT-VECTORS.md §1.3, §1.8), and every refusal.
import { describe, expect, it } from 'vitest';
import * as wecomCrypto from '@wecom/crypto';
import { MsgCrypto, urlSignature } from '../../../../src/wechat/crypto/msg-crypto.ts';
import { OA_TIMESTAMP_WINDOW_MS, verifyPush, type OaQuery } from '../../../../src/wechat/oa/verify.ts';
import type { OaTenant } from '../../../../src/wechat/oa/tenant-cache.ts';
import type { OaCredentials } from '../../../../src/tenants/index.ts';
import { AppError } from '../../../../src/app/errors.ts';

function tenant(oa: Partial<OaCredentials> & Pick<OaCredentials, 'token' | 'encodingAESKey' | 'appId' | 'mode'>): OaTenant {
  const full: OaCredentials = { appSecret: '0'.repeat(32), ...oa };
  return { tenantId: 't1', oa: full, crypto: new MsgCrypto(full.token, full.encodingAESKey, full.appId) };
}

function refusal(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    return `${e.status} ${e.code}`;
  }
  return undefined;
}

// V1: the official message-push example, safe mode, JSON format.
const V1 = {
  tenant: tenant({ token: 'AAAAA', encodingAESKey: 'A'.repeat(43), appId: 'wxba5fad812f8e6fb9', mode: 'safe', originalId: 'gh_97417a04a28d' }),
  query: {
    signature: '6c5c811b55cc85e0e1b54100749188c20beb3f5d',
    timestamp: '1714112445',
    nonce: '415670741',
    openid: 'o9AgO5Kd5ggOC-bXrbNODIiE3bGY',
    encrypt_type: 'aes',
    msg_signature: '046e02f8204d34f8ba5fa3b1db94908f3df2e9b3',
  } satisfies OaQuery,
  body: '{"ToUserName":"gh_97417a04a28d","Encrypt":"+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="}',
  nowMs: 1714112445_000,
};

// V2: EasyWeChat's decrypt vector, safe mode, XML.
const V2_ENCRYPT =
  'rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==';
const V2 = {
  tenant: tenant({ token: 'pamtest', encodingAESKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', appId: 'wxb11529c136998cb6', mode: 'safe' }),
  query: {
    signature: urlSignature('pamtest', '1458300676', '260774613'),
    timestamp: '1458300676',
    nonce: '260774613',
    encrypt_type: 'aes',
    msg_signature: '4f3ad57b6989f09f4eb392acce4f9e93942ed890',
  } satisfies OaQuery,
  body: `<xml>\n    <ToUserName><![CDATA[asdasdasd]]></ToUserName>\n    <Encrypt><![CDATA[${V2_ENCRYPT}]]></Encrypt>\n</xml>`,
  nowMs: 1458300676_000,
};

// The official plain-mode query (Token AAAAA) with the official text message sample as body.
const PLAIN = {
  tenant: tenant({ token: 'AAAAA', encodingAESKey: 'A'.repeat(43), appId: 'wx0000000000000001', mode: 'plain' }),
  query: { signature: '899cf89e464efb63f54ddac96b0a0a235f53aa78', timestamp: '1714037059', nonce: '486452656' } satisfies OaQuery,
  body: '<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId></xml>',
  nowMs: 1714037059_000,
};

describe('published vectors', () => {
  it('accepts the official safe-mode push (V1, JSON): both signatures check, the event decrypts and is typed', () => {
    const v = verifyPush(V1.tenant, V1.query, Buffer.from(V1.body), V1.nowMs);
    expect(v).toMatchObject({ format: 'json', encrypted: true, dedupKey: 'e:o9AgO5Kd5ggOC-bXrbNODIiE3bGY:1714112445:debug_demo:' });
    expect(v.msg).toEqual({ tenantId: 't1', openid: 'o9AgO5Kd5ggOC-bXrbNODIiE3bGY', accountId: 'gh_97417a04a28d', createTime: 1714112445, msgType: 'other', rawMsgType: 'event', rawEvent: 'debug_demo' });
  });

  it('accepts EasyWeChat’s safe-mode XML push (V2) and reads the text message inside', () => {
    const v = verifyPush(V2.tenant, V2.query, Buffer.from(V2.body), V2.nowMs);
    expect(v).toMatchObject({ format: 'xml', encrypted: true, dedupKey: 'm:12345' });
    expect(v.msg).toMatchObject({ msgType: 'text', content: 'hello', openid: 'asdasdasdsadasd', accountId: 'asdasdasd', createTime: 1234567898 });
  });

  it('accepts the official plain-mode signature with the official text sample', () => {
    const v = verifyPush(PLAIN.tenant, PLAIN.query, Buffer.from(PLAIN.body), PLAIN.nowMs);
    expect(v).toMatchObject({ format: 'xml', encrypted: false, dedupKey: 'm:1234567890123456' });
    expect(v.msg).toMatchObject({ msgType: 'text', content: 'this is a test', openid: 'fromUser' });
  });
});

describe('refusals', () => {
  it('refuses a wrong URL signature or msg_signature (401)', () => {
    expect(refusal(() => verifyPush(V2.tenant, { ...V2.query, signature: 'f'.repeat(40) }, Buffer.from(V2.body), V2.nowMs))).toBe('401 unauthenticated');
    expect(refusal(() => verifyPush(V2.tenant, { ...V2.query, msg_signature: 'f'.repeat(40) }, Buffer.from(V2.body), V2.nowMs))).toBe('401 unauthenticated');
    expect(refusal(() => verifyPush(V2.tenant, { ...V2.query, msg_signature: undefined }, Buffer.from(V2.body), V2.nowMs))).toBe('401 unauthenticated');
  });

  it('refuses a tampered Encrypt: the msg_signature no longer matches (401)', () => {
    const tampered = V2.body.replace('rTNFcsut', 'rTNFcsuu');
    expect(refusal(() => verifyPush(V2.tenant, V2.query, Buffer.from(tampered), V2.nowMs))).toBe('401 unauthenticated');
  });

  it('refuses a message encrypted for another app id, even correctly signed (403)', () => {
    const key = V2.tenant.oa.encodingAESKey;
    const inner = '<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1458300676</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId></xml>';
    const encrypt = wecomCrypto.encrypt(key, inner, 'wx0000000000000bad');
    const q = { ...V2.query, msg_signature: wecomCrypto.getSignature('pamtest', V2.query.timestamp, V2.query.nonce, encrypt) };
    expect(refusal(() => verifyPush(V2.tenant, q, Buffer.from(`<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`), V2.nowMs))).toBe('403 forbidden');
  });

  it('refuses a timestamp outside the window, either way (401), and accepts one at its edge', () => {
    expect(refusal(() => verifyPush(V2.tenant, V2.query, Buffer.from(V2.body), V2.nowMs + OA_TIMESTAMP_WINDOW_MS + 1000))).toBe('401 unauthenticated');
    expect(refusal(() => verifyPush(V2.tenant, V2.query, Buffer.from(V2.body), V2.nowMs - OA_TIMESTAMP_WINDOW_MS - 1000))).toBe('401 unauthenticated');
    expect(refusal(() => verifyPush(V2.tenant, V2.query, Buffer.from(V2.body), V2.nowMs + OA_TIMESTAMP_WINDOW_MS))).toBeUndefined();
  });

  it('refuses a plain push to a safe-mode account (403), since a plain body is not signed', () => {
    const safe = tenant({ ...PLAIN.tenant.oa, mode: 'safe' });
    expect(refusal(() => verifyPush(safe, PLAIN.query, Buffer.from(PLAIN.body), PLAIN.nowMs))).toBe('403 forbidden');
  });

  it('refuses a push addressed to another account when the original id is known (403)', () => {
    const withId = tenant({ ...PLAIN.tenant.oa, originalId: 'gh_000000000001' });
    expect(refusal(() => verifyPush(withId, PLAIN.query, Buffer.from(PLAIN.body), PLAIN.nowMs))).toBe('403 forbidden');
    const v1Other = tenant({ ...V1.tenant.oa, originalId: 'gh_000000000001' });
    expect(refusal(() => verifyPush(v1Other, V1.query, Buffer.from(V1.body), V1.nowMs))).toBe('403 forbidden');
  });

  it('refuses an openid in the query that is not the sender (400)', () => {
    expect(refusal(() => verifyPush(PLAIN.tenant, { ...PLAIN.query, openid: 'someoneElse' }, Buffer.from(PLAIN.body), PLAIN.nowMs))).toBe('400 validation_failed');
  });

  it('refuses an empty body, XML bombs and external entities (400) before any handler could run', () => {
    const bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml><Content>&lol2;</Content></xml>';
    const xxe = '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>';
    for (const body of ['', bomb, xxe, '<notxml/>', '<xml><a>']) {
      expect(refusal(() => verifyPush(PLAIN.tenant, PLAIN.query, Buffer.from(body), PLAIN.nowMs))).toBe('400 validation_failed');
    }
    // The same bomb inside a correctly signed, correctly encrypted envelope.
    const encrypt = wecomCrypto.encrypt(V2.tenant.oa.encodingAESKey, bomb, 'wxb11529c136998cb6');
    const q = { ...V2.query, msg_signature: wecomCrypto.getSignature('pamtest', V2.query.timestamp, V2.query.nonce, encrypt) };
    expect(refusal(() => verifyPush(V2.tenant, q, Buffer.from(`<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`), V2.nowMs))).toBe('400 validation_failed');
  });

  it('refuses invalid UTF-8 in the body and in the decrypted message (400)', () => {
    const bad = Buffer.concat([Buffer.from('<xml><ToUserName>a</ToUserName><Content>'), Buffer.from([0xc3, 0x28]), Buffer.from('</Content></xml>')]);
    expect(refusal(() => verifyPush(PLAIN.tenant, PLAIN.query, bad, PLAIN.nowMs))).toBe('400 validation_failed');
  });
});
