// The sandbox as WeChat pushing to the OA server: signs and encrypts per the account's mode, times out and retries as WeChat does, reads the reply.
import { randomBytes, randomInt } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import type { OaCredentials } from '../../tenants/index.ts';
import { MsgCrypto, signatureMatches, urlSignature } from '../../wechat/crypto/msg-crypto.ts';
import { buildXml, optionalField, parseWechatXml, type XmlObject } from '../../wechat/xml.ts';
import { replyAsText, type OaArticle } from '../../wechat/oa/index.ts';

/** WeChat drops the connection after 5 s … */
export const WECHAT_PUSH_TIMEOUT_MS = 5_000;
/** … and retries the identical request up to 3 times (WECHAT.md §1, "Timing and retries"). */
export const WECHAT_PUSH_RETRIES = 3;
/** Largest reply the sandbox reads. */
const MAX_REPLY_BYTES = 256 * 1024;
/** What the WeChat client shows when the server fails to answer properly. */
export const SERVICE_UNAVAILABLE_TEXT = '该公众号暂时无法提供服务，请稍后再试';

export type PushFields = Record<string, string | number>;

export interface PushResult {
  /** The reply as text (news rendered as text); null when the server answered `success` or nothing usable. */
  reply: string | null;
  /** Requests made: 1, or more when WeChat had to retry. */
  attempts: number;
  /** Set when the user would see WeChat's failure notice instead of a reply. */
  failure?: string;
}

/** A random unsigned 63-bit MsgId, as decimal (WeChat's are 64-bit integers). */
export function newMsgId(): string {
  const n = randomBytes(8).readBigUInt64BE() >> 1n;
  return (n === 0n ? 1n : n).toString();
}

function nonce(): string {
  return String(randomInt(100_000_000, 10_000_000_000));
}

/** The request WeChat would send for `fields` (one push; retries repeat it byte for byte). */
export function signedPush(oa: OaCredentials, fields: PushFields, timestamp: string): { query: URLSearchParams; body: string; crypto: MsgCrypto } {
  const crypto = new MsgCrypto(oa.token, oa.encodingAESKey, oa.appId);
  const n = nonce();
  const query = new URLSearchParams({ signature: urlSignature(oa.token, timestamp, n), timestamp, nonce: n, openid: String(fields.FromUserName) });
  const plain = buildXml(fields);
  if (oa.mode === 'plain') return { query, body: plain, crypto };
  const encrypt = crypto.encrypt(plain);
  query.set('encrypt_type', 'aes');
  query.set('msg_signature', crypto.signature(timestamp, n, encrypt));
  // Compatible mode carries the plain fields beside Encrypt; safe mode only the addressee.
  const body = oa.mode === 'safe' ? buildXml({ ToUserName: String(fields.ToUserName), Encrypt: encrypt }) : buildXml({ ...fields, Encrypt: encrypt });
  return { query, body, crypto };
}

function articlesOf(xml: XmlObject): OaArticle[] {
  const items = (xml.Articles as XmlObject | undefined)?.item;
  const list = Array.isArray(items) ? items : items ? [items] : [];
  return list.map((i) => {
    const it = i as XmlObject;
    const description = optionalField(it, 'Description');
    const url = optionalField(it, 'Url');
    return { title: optionalField(it, 'Title') ?? '', ...(description ? { description } : {}), ...(url ? { url } : {}) };
  });
}

/** The reply's text, after checking its signature and decrypting it when the push was encrypted. */
export function readReply(oa: OaCredentials, crypto: MsgCrypto, body: string): string | null {
  const text = body.trim();
  if (text === '' || text === 'success') return null;
  let xml = parseWechatXml(text);
  const encrypt = optionalField(xml, 'Encrypt');
  if (encrypt !== undefined) {
    const ts = optionalField(xml, 'TimeStamp') ?? '';
    const n = optionalField(xml, 'Nonce') ?? '';
    if (!signatureMatches(crypto.signature(ts, n, encrypt), optionalField(xml, 'MsgSignature'))) throw new Error('the reply MsgSignature does not match');
    xml = parseWechatXml(crypto.decrypt(encrypt).message);
  } else if (oa.mode === 'safe') {
    throw new Error('a safe-mode account answered in plain text');
  }
  const type = optionalField(xml, 'MsgType');
  if (type === 'text') return optionalField(xml, 'Content') ?? '';
  if (type === 'news') return replyAsText({ type: 'news', articles: articlesOf(xml) });
  return `[${type ?? 'unknown'}]`;
}

async function attempt(url: string, body: string, timeoutMs: number): Promise<{ status: number; text: string } | undefined> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body, signal: AbortSignal.timeout(timeoutMs) });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > MAX_REPLY_BYTES) return { status: 502, text: '' };
    return { status: res.status, text: bytes.toString('utf8') };
  } catch {
    // Timed out or could not connect: WeChat tries again.
    return undefined;
  }
}

/**
 * Pushes one message to the server at `${serverUrl}/wechat/oa/{tenantId}` as WeChat does: the
 * same signed request again after each timeout, up to WECHAT_PUSH_RETRIES more times; a reply that
 * does not verify or decrypt counts as no reply (the user sees WeChat's failure notice).
 */
export async function pushOaMessage(
  ctx: AppContext,
  input: { tenantId: string; oa: OaCredentials; fields: PushFields },
  opts: { serverUrl?: string; timeoutMs?: number; retries?: number } = {},
): Promise<PushResult> {
  const timestamp = String(Math.floor(ctx.clock.now().getTime() / 1000));
  const { query, body, crypto } = signedPush(input.oa, input.fields, timestamp);
  const url = `${opts.serverUrl ?? ctx.config.sandboxServerUrl}/wechat/oa/${encodeURIComponent(input.tenantId)}?${query}`;
  const tries = 1 + (opts.retries ?? WECHAT_PUSH_RETRIES);
  for (let n = 1; n <= tries; n++) {
    const res = await attempt(url, body, opts.timeoutMs ?? WECHAT_PUSH_TIMEOUT_MS);
    if (!res) continue;
    if (res.status !== 200) {
      ctx.log.info({ tenantId: input.tenantId, status: res.status }, 'sandbox OA push refused by the server');
      return { reply: null, attempts: n, failure: SERVICE_UNAVAILABLE_TEXT };
    }
    try {
      return { reply: readReply(input.oa, crypto, res.text), attempts: n };
    } catch (err) {
      ctx.log.info({ tenantId: input.tenantId, reason: (err as Error).message }, 'sandbox OA push got a reply WeChat would reject');
      return { reply: null, attempts: n, failure: SERVICE_UNAVAILABLE_TEXT };
    }
  }
  return { reply: null, attempts: tries, failure: SERVICE_UNAVAILABLE_TEXT };
}
