// Safe-mode crypto against every published OA/WeCom vector, and interop both ways with @wecom/crypto and wechat-crypto.
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as wecomCrypto from '@wecom/crypto';
// @ts-expect-error wechat-crypto ships no types
import WXBizMsgCrypt from 'wechat-crypto';
import { MsgCrypto, sha1Signature, signatureMatches, urlSignature } from '../../../src/wechat/crypto/msg-crypto.ts';
import { AppError } from '../../../src/app/errors.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('msg-crypto');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : 'not an AppError';
  }
  return undefined;
}

describe('WECHAT.md §1 vector (WxJava encrypt, pamtest)', () => {
  const c = new MsgCrypto('pamtest', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wxb11529c136998cb6');
  const ENCRYPTED = 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==';

  it('encrypts 我是中文abcd123 with the fixed random prefix to the published ciphertext', () => {
    expect(c.encrypt('我是中文abcd123', Buffer.from('aaaabbbbccccdddd'))).toBe(ENCRYPTED);
  });

  it('signs the ciphertext and the URL check as published', () => {
    expect(c.signature('1409304348', 'xxxxxx', ENCRYPTED)).toBe('82c962d39941aa48552f90ef55aa323dc620cc10');
    expect(urlSignature('pamtest', '1409304348', 'xxxxxx')).toBe('76480565cbe296026c53aaacd1ad523a1ddba24f');
  });

  it('decrypts it back with the app id', () => {
    expect(c.decrypt(ENCRYPTED)).toEqual({ message: '我是中文abcd123', receiveId: 'wxb11529c136998cb6' });
  });

  it('reproduces the second WxJava vector (480 bytes of ciphertext)', () => {
    const msg =
      '<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>';
    const out = c.encrypt(msg, Buffer.from('aaaabbbbccccdddd'));
    expect(out.startsWith('jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesx')).toBe(true);
    expect(out.endsWith('5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb')).toBe(true);
    expect(Buffer.from(out, 'base64')).toHaveLength(480);
  });
});

describe('EasyWeChat decrypt vector (V2)', () => {
  const c = new MsgCrypto('pamtest', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wxb11529c136998cb6');
  const ENC =
    'rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==';

  it('checks the signature and decrypts the XML message', () => {
    expect(c.signature('1458300676', '260774613', ENC)).toBe('4f3ad57b6989f09f4eb392acce4f9e93942ed890');
    const { message } = c.decrypt(ENC);
    expect(message).toHaveLength(293);
    expect(message).toContain('<Content><![CDATA[hello]]></Content><MsgId>12345</MsgId>');
  });

  it('refuses a message encrypted for another app id', () => {
    const other = new MsgCrypto('pamtest', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wx0000000000000000');
    expect(codeOf(() => other.decrypt(ENC))).toBe('forbidden');
  });
});

describe('official message-push vector (V1, all-zero key)', () => {
  const c = new MsgCrypto('AAAAA', 'A'.repeat(43), 'wxba5fad812f8e6fb9');
  const ENC =
    '+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=';

  it('verifies msg_signature, decrypts the event and reproduces the encrypted reply', () => {
    expect(c.signature('1714112445', '415670741', ENC)).toBe('046e02f8204d34f8ba5fa3b1db94908f3df2e9b3');
    expect(JSON.parse(c.decrypt(ENC).message)).toMatchObject({ Event: 'debug_demo', debug_str: 'hello world' });
    const reply = c.encrypt('{"demo_resp":"good luck"}', Buffer.from('707722b803182950'));
    expect(reply).toBe('ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==');
    expect(c.signature('1713424427', '415670741', reply)).toBe('1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1');
  });
});

describe('WeCom official vector (§5.7)', () => {
  const c = new MsgCrypto('QDG6eK', 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', 'wx5823bf96d3bd56c7');

  it('verifies and decrypts the URL-check echostr', () => {
    const echostr = 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==';
    expect(c.signature('1409659589', '263014780', echostr)).toBe('5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3');
    expect(c.decrypt(echostr).message).toBe('1616140317555161061');
  });

  it('decrypts a message whose padding is 30 bytes', () => {
    const enc =
      'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==';
    expect(c.signature('1409659813', '1372623149', enc)).toBe('477715d11cdb4164915debcba66cb864d751f3e6');
    const { message } = c.decrypt(enc);
    expect(message).toHaveLength(284);
    expect(message).toContain('<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>');
  });
});

describe('signatures', () => {
  it('matches node-webot wechat-crypto signature vector (V4)', () => {
    expect(sha1Signature('RMNlACHlV5ThzfRlVS4D4', 'timestamp', 'nonce', 'encrypt')).toBe('8edac0945683c119ee71c9f6256d76c48aa08a96');
  });

  it('compares in constant time and treats a missing or short signature as a mismatch', () => {
    const s = sha1Signature('a', 'b', 'c');
    expect(signatureMatches(s, s)).toBe(true);
    expect(signatureMatches(s, s.toUpperCase())).toBe(true);
    expect(signatureMatches(s, undefined)).toBe(false);
    expect(signatureMatches(s, s.slice(1))).toBe(false);
  });
});

describe('malformed ciphertext', () => {
  const c = new MsgCrypto('pamtest', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wxb11529c136998cb6');

  it('refuses non-base64, a length that is not whole blocks, bad padding and invalid UTF-8 with validation_failed', () => {
    expect(codeOf(() => c.decrypt('not base64!'))).toBe('validation_failed');
    expect(codeOf(() => c.decrypt(Buffer.alloc(20).toString('base64')))).toBe('validation_failed');
    expect(codeOf(() => c.decrypt(Buffer.alloc(64).toString('base64')))).toBe('validation_failed');
    expect(codeOf(() => c.decrypt(''))).toBe('validation_failed');
  });

  it('refuses a message body that is not UTF-8', () => {
    // A well-formed envelope (right key, padding, length and app id) around bytes that are not UTF-8.
    const key = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG=', 'base64');
    const body = Buffer.from([0xff, 0xfe, 0x41]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    let plain = Buffer.concat([Buffer.alloc(16, 1), len, body, Buffer.from('wxb11529c136998cb6')]);
    const pad = 32 - (plain.length % 32);
    plain = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const enc = Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
    expect(codeOf(() => c.decrypt(enc))).toBe('validation_failed');
  });
});

describe('interop with independent libraries', () => {
  const token = 'interopToken123';
  const aesKey = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
  const appId = 'wx1234567890abcdef';
  const c = new MsgCrypto(token, aesKey, appId);
  const peer = new WXBizMsgCrypt(token, aesKey, appId);

  it('agrees with @wecom/crypto and wechat-crypto both ways on random messages', () => {
    check(
      seed,
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.stringMatching(/^[0-9]{10}$/), fc.stringMatching(/^[a-z0-9]{1,12}$/), (msg, ts, nonce) => {
        const ours = c.encrypt(msg);
        expect(wecomCrypto.decrypt(aesKey, ours)).toMatchObject({ message: msg, id: appId });
        expect(peer.decrypt(ours)).toMatchObject({ message: msg, id: appId });
        expect(c.decrypt(wecomCrypto.encrypt(aesKey, msg, appId)).message).toBe(msg);
        expect(c.decrypt(peer.encrypt(msg)).message).toBe(msg);
        expect(c.signature(ts, nonce, ours)).toBe(wecomCrypto.getSignature(token, ts, nonce, ours));
        expect(c.signature(ts, nonce, ours)).toBe(peer.getSignature(ts, nonce, ours));
      }),
      200,
    );
  });
});

describe('one MsgCrypto kept for many messages (its AES contexts are reused)', () => {
  const aesKey = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
  const appId = 'wxb11529c136998cb6';
  const PUBLISHED = 'jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==';

  it('gives every message the output of a fresh context, whatever came before, refused input included', () => {
    const c = new MsgCrypto('pamtest', aesKey, appId);
    const other = new MsgCrypto('pamtest', aesKey, 'wx0000000000000000');
    const badPadding = Buffer.alloc(64).toString('base64');
    for (let i = 0; i < 40; i++) {
      const msg = `<xml><Content><![CDATA[${'消息'.repeat(i)}]]></Content><MsgId>${i}</MsgId></xml>`;
      // Encrypted by the library, decrypted by us after whatever the previous round left in the contexts.
      expect(c.decrypt(wecomCrypto.encrypt(aesKey, msg, appId)).message).toBe(msg);
      expect(wecomCrypto.decrypt(aesKey, c.encrypt(msg)).message).toBe(msg);
      if (i % 3 === 0) expect(codeOf(() => c.decrypt(badPadding))).toBe('validation_failed');
      if (i % 4 === 0) expect(codeOf(() => c.decrypt(other.encrypt(msg)))).toBe('forbidden');
      if (i % 5 === 0) expect(codeOf(() => c.decrypt('AAAA'))).toBe('validation_failed');
      // The published vector still comes out exactly, both ways.
      expect(c.encrypt('我是中文abcd123', Buffer.from('aaaabbbbccccdddd'))).toBe(PUBLISHED);
      expect(c.decrypt(PUBLISHED).message).toBe('我是中文abcd123');
    }
  });
});
