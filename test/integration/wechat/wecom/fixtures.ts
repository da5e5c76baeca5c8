// Test helpers for WeCom callbacks: tenants with WeCom credentials, and requests signed and encrypted by independent libraries.
import { randomBytes } from 'node:crypto';
import * as wecomCrypto from '@wecom/crypto';
import type { AppContext } from '../../../../src/app/context.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { createTenant, type WecomCredentials } from '../../../../src/tenants/index.ts';
import { randomToken } from '../../../../src/shared/ids.ts';

/** The WeCom official sample (WECHAT-VECTORS.md §5.7). */
export const OFFICIAL = {
  corpId: 'wx5823bf96d3bd56c7',
  token: 'QDG6eK',
  encodingAESKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
  verify: {
    query: 'msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D',
    timestamp: 1409659589,
    answer: '1616140317555161061',
  },
  message: {
    query: 'msg_signature=477715d11cdb4164915debcba66cb864d751f3e6&timestamp=1409659813&nonce=1372623149',
    timestamp: 1409659813,
    body: '<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>',
    msgId: '4561255354251345929',
  },
};

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const alnum = (n: number) => Array.from(randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join('');

/** Fresh random WeCom credentials of the shape tenants accept. */
export function wecomCredentials(): WecomCredentials {
  return { corpId: `ww${randomBytes(8).toString('hex')}`, token: alnum(32), encodingAESKey: alnum(43), secret: alnum(43) };
}

/** A new tenant whose only app is WeCom. */
export async function wecomTenant(ctx: AppContext, wecom: WecomCredentials = wecomCredentials()): Promise<{ tenantId: string; wecom: WecomCredentials }> {
  const tenantId = `wc-${randomToken(6)}`;
  await inTx(ctx.db, (tx) =>
    createTenant(tx, ctx.crypto, { id: tenantId, name: '企微测试银行', kind: 'bank', preset: 'agricultural', credentials: { wecom }, now: ctx.clock.now() }),
  );
  return { tenantId, wecom };
}

/** WeCom's add_external_contact event (WECHAT-VECTORS.md §5.3) for this corp. */
export function addContactXml(corpId: string, f: { userId?: string; externalUserId?: string; state?: string; welcomeCode?: string; createTime: number }): string {
  return (
    `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>${f.createTime}</CreateTime>` +
    '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>' +
    `<UserID><![CDATA[${f.userId ?? 'ZhangMin'}]]></UserID><ExternalUserID><![CDATA[${f.externalUserId ?? `wm${randomToken(10)}`}]]></ExternalUserID>` +
    (f.state !== undefined ? `<State><![CDATA[${f.state}]]></State>` : '') +
    `<WelcomeCode><![CDATA[${f.welcomeCode ?? randomToken(20)}]]></WelcomeCode></xml>`
  );
}

export interface SignedRequest {
  url: string;
  body: string;
}

/** The POST WeCom would send: `encrypted` (by whatever library) wrapped, signed with @wecom/crypto's getSignature. */
export function signedPost(tenantId: string, wecom: WecomCredentials, encrypted: string, timestamp: number, opts: { nonce?: string; toUserName?: string } = {}): SignedRequest {
  const nonce = opts.nonce ?? String(1_000_000 + Math.floor(Math.random() * 1e9));
  const sig = wecomCrypto.getSignature(wecom.token, String(timestamp), nonce, encrypted);
  return {
    url: `/wechat/wecom/${tenantId}?msg_signature=${sig}&timestamp=${timestamp}&nonce=${nonce}`,
    body: `<xml><ToUserName><![CDATA[${opts.toUserName ?? wecom.corpId}]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`,
  };
}

/** An event encrypted by @wecom/crypto and signed, ready to POST. */
export function wecomEvent(tenantId: string, wecom: WecomCredentials, xml: string, timestamp: number): SignedRequest {
  return signedPost(tenantId, wecom, wecomCrypto.encrypt(wecom.encodingAESKey, xml, wecom.corpId), timestamp);
}
