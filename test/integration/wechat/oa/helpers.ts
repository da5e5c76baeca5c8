// Test helpers for the OA endpoint: tenants with OA credentials, and WeChat's side of a push written with @wecom/crypto (not our code).
import { createHash, randomBytes, randomInt } from 'node:crypto';
import * as wecomCrypto from '@wecom/crypto';
import type { AppContext } from '../../../../src/app/context.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { createTenant, type OaCredentials } from '../../../../src/tenants/index.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const alnum = (n: number) => Array.from({ length: n }, () => ALNUM[randomInt(ALNUM.length)]).join('');
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export function randomOa(mode: OaCredentials['mode'], overrides: Partial<OaCredentials> = {}): OaCredentials {
  const oa: OaCredentials = {
    appId: `wx${hex(8)}`,
    appSecret: hex(16),
    token: alnum(32),
    encodingAESKey: alnum(43),
    mode,
    originalId: `gh_${hex(6)}`,
    ...overrides,
  };
  registerSensitive(oa.appSecret, oa.token, oa.encodingAESKey);
  return oa;
}

let tenantSeq = 0;

/** A tenant with only an Official Account configured. */
export async function createOaTenant(ctx: AppContext, oa: OaCredentials, id = `oa-${process.pid}-${++tenantSeq}`): Promise<{ tenantId: string; oa: OaCredentials }> {
  await inTx(ctx.db, (tx) => createTenant(tx, ctx.crypto, { id, name: `OA ${id}`, kind: 'bank', preset: 'agricultural', credentials: { oa }, now: ctx.clock.now() }));
  return { tenantId: id, oa };
}

export const cdata = (s: string) => `<![CDATA[${s}]]>`;

/** The inner XML of a text message, written by hand as WeChat's samples are. */
export function textXml(oa: OaCredentials, from: string, content: string, msgId: string, createTime: number): string {
  return `<xml><ToUserName>${cdata(oa.originalId ?? 'gh_unknown')}</ToUserName><FromUserName>${cdata(from)}</FromUserName><CreateTime>${createTime}</CreateTime><MsgType>${cdata('text')}</MsgType><Content>${cdata(content)}</Content><MsgId>${msgId}</MsgId></xml>`;
}

export function eventXml(oa: OaCredentials, from: string, event: string, createTime: number, eventKey?: string): string {
  return `<xml><ToUserName>${cdata(oa.originalId ?? 'gh_unknown')}</ToUserName><FromUserName>${cdata(from)}</FromUserName><CreateTime>${createTime}</CreateTime><MsgType>${cdata('event')}</MsgType><Event>${cdata(event)}</Event>${eventKey === undefined ? '' : `<EventKey>${cdata(eventKey)}</EventKey>`}</xml>`;
}

export interface WechatRequest {
  /** Path and query, e.g. `/wechat/oa/t1?signature=…`. */
  url: string;
  body: string;
}

const sha1Sorted = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

/**
 * The request WeChat sends for `inner` in the account's mode, signed and (unless plain) encrypted
 * by @wecom/crypto. `encryptFor` encrypts for another app id (a message meant for someone else).
 */
export function wechatRequest(
  tenantId: string,
  oa: OaCredentials,
  inner: string,
  opts: { timestamp: number; nonce?: string; openid?: string; encryptFor?: string; mode?: OaCredentials['mode'] },
): WechatRequest {
  const timestamp = String(opts.timestamp);
  const nonce = opts.nonce ?? String(randomInt(1e9));
  const q = new URLSearchParams({ signature: sha1Sorted(oa.token, timestamp, nonce), timestamp, nonce });
  if (opts.openid) q.set('openid', opts.openid);
  const mode = opts.mode ?? oa.mode;
  if (mode === 'plain') return { url: `/wechat/oa/${tenantId}?${q}`, body: inner };
  const encrypt = wecomCrypto.encrypt(oa.encodingAESKey, inner, opts.encryptFor ?? oa.appId);
  q.set('encrypt_type', 'aes');
  q.set('msg_signature', wecomCrypto.getSignature(oa.token, timestamp, nonce, encrypt));
  const to = `<ToUserName>${cdata(oa.originalId ?? 'gh_unknown')}</ToUserName>`;
  const body = mode === 'safe' ? `<xml>${to}<Encrypt>${cdata(encrypt)}</Encrypt></xml>` : inner.replace('</xml>', `<Encrypt>${cdata(encrypt)}</Encrypt></xml>`);
  return { url: `/wechat/oa/${tenantId}?${q}`, body };
}

function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([^<]*))</${name}>`).exec(xml);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** The plaintext of an encrypted reply, after checking its MsgSignature, with @wecom/crypto. */
export function openReply(oa: OaCredentials, body: string): string {
  const encrypt = element(body, 'Encrypt');
  const ts = element(body, 'TimeStamp');
  const nonce = element(body, 'Nonce');
  if (!encrypt || !ts || !nonce) throw new Error(`not an encrypted reply: ${body}`);
  if (wecomCrypto.getSignature(oa.token, ts, nonce, encrypt) !== element(body, 'MsgSignature')) throw new Error('reply MsgSignature does not verify');
  const { message, id } = wecomCrypto.decrypt(oa.encodingAESKey, encrypt);
  if (id !== oa.appId) throw new Error('reply encrypted for another app');
  return message;
}

export { element as xmlElement };

let msgSeq = BigInt(Date.now()) * 1000n;
/** A fresh 64-bit-looking MsgId. */
export function nextMsgId(): string {
  msgSeq += 1n;
  return (msgSeq + 9_000_000_000_000_000_000n).toString();
}
