// WeChat Pay v3 signatures: request messages and the Authorization header, response/notification messages, wx.requestPayment's paySign (WECHAT-VECTORS.md §4.2, §4.3, §4.7).
import { createSign, createVerify, randomInt, type KeyObject } from 'node:crypto';

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** What the platform calls the algorithm in `Wechatpay-Signature-Type`. */
export const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
/** Signatures WeChat sends on purpose to see whether merchants verify (§4.3): never valid. */
export const SIGNATURE_PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';
/** An RSA-2048 signature is 256 bytes, 344 base64 characters; anything much longer is not a signature. */
const SIGNATURE_MAX_CHARS = 1_024;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** SDKs send 32 characters of [0-9A-Za-z]. */
export const NONCE_CHARS = 32;

/** A fresh request nonce. */
export function newNonce(chars = NONCE_CHARS): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)];
  return s;
}

/** Unix seconds as the decimal string every v3 message carries. */
export function unixSeconds(at: Date): string {
  return String(Math.floor(at.getTime() / 1000));
}

/**
 * `METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n`: the canonical URL is the path with the query
 * exactly as sent (host removed); BODY is the exact bytes sent, empty for GET.
 */
export function requestMessage(method: string, canonicalUrl: string, timestamp: string, nonce: string, body: string | Buffer = ''): Buffer {
  return Buffer.concat([Buffer.from(`${method.toUpperCase()}\n${canonicalUrl}\n${timestamp}\n${nonce}\n`), Buffer.from(body), Buffer.from('\n')]);
}

/** `TIMESTAMP\nNONCE\nBODY\n` over the raw body bytes (for a 204 the body is empty). */
export function responseMessage(timestamp: string, nonce: string, body: string | Buffer = ''): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), Buffer.from(body), Buffer.from('\n')]);
}

/** base64(RSA-PKCS#1 v1.5-SHA256): deterministic, so a fixed key and message give a fixed signature. */
export function signMessage(privateKey: KeyObject, message: string | Buffer): string {
  return createSign('RSA-SHA256').update(message).sign(privateKey, 'base64');
}

/**
 * True only for a well-formed signature that verifies. Probes (`WECHATPAY/SIGNTEST/…`), non-base64
 * text and oversized values are simply false, never an exception.
 */
export function verifyMessage(publicKey: KeyObject, message: string | Buffer, signature: string): boolean {
  if (typeof signature !== 'string' || signature.length === 0 || signature.length > SIGNATURE_MAX_CHARS) return false;
  if (signature.startsWith(SIGNATURE_PROBE_PREFIX) || !BASE64.test(signature)) return false;
  try {
    return createVerify('RSA-SHA256').update(message).verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

export interface AuthorizationFields {
  mchid: string;
  serial_no: string;
  timestamp: string;
  nonce_str: string;
  signature: string;
}

/** The header value; the five pairs may come in any order ("以上五项签名信息，无顺序要求"). */
export function authorizationHeader(f: AuthorizationFields): string {
  return `${AUTH_SCHEME} mchid="${f.mchid}",nonce_str="${f.nonce_str}",signature="${f.signature}",timestamp="${f.timestamp}",serial_no="${f.serial_no}"`;
}

const AUTH_FIELDS = ['mchid', 'serial_no', 'timestamp', 'nonce_str', 'signature'] as const;
const AUTH_PAIR = /^\s*([a-z_]+)="([^"]*)"\s*$/;
/** A header longer than this is not an Authorization we produce or accept. */
const AUTHORIZATION_MAX_CHARS = 2_048;

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",…`; undefined when the scheme, a field or the syntax is wrong. */
export function parseAuthorization(header: string | undefined): AuthorizationFields | undefined {
  if (typeof header !== 'string' || header.length > AUTHORIZATION_MAX_CHARS) return undefined;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space) !== AUTH_SCHEME) return undefined;
  const out: Partial<Record<string, string>> = {};
  for (const part of header.slice(space + 1).split(',')) {
    const m = AUTH_PAIR.exec(part);
    if (!m) return undefined;
    const key = m[1]!;
    if (!(AUTH_FIELDS as readonly string[]).includes(key) || key in out) return undefined;
    out[key] = m[2]!;
  }
  if (!AUTH_FIELDS.every((k) => typeof out[k] === 'string' && out[k] !== '')) return undefined;
  return out as unknown as AuthorizationFields;
}

/** The parameters `wx.requestPayment` (mini-program) and `getBrandWCPayRequest` (OA H5) take. */
export interface RequestPaymentParams {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: 'RSA';
  paySign: string;
}

/** `paySign = base64(RSA-SHA256(appId\ntimeStamp\nnonceStr\npackage\n))`, package = `prepay_id=…` (§4.7). */
export function requestPaymentParams(input: { appId: string; prepayId: string; timeStamp: string; nonceStr: string; merchantKey: KeyObject }): RequestPaymentParams {
  const pkg = `prepay_id=${input.prepayId}`;
  const paySign = signMessage(input.merchantKey, `${input.appId}\n${input.timeStamp}\n${input.nonceStr}\n${pkg}\n`);
  return { appId: input.appId, timeStamp: input.timeStamp, nonceStr: input.nonceStr, package: pkg, signType: 'RSA', paySign };
}
