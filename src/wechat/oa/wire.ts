// The bytes of an OA push and its answer: XML or JSON bodies, passive replies, and the safe-mode envelope (WECHAT.md §1).
import { AppError } from '../../app/errors.ts';
import { decodeUtf8, type MsgCrypto } from '../crypto/msg-crypto.ts';
import { buildXml, cdata, MAX_XML_BYTES, type XmlField, type XmlObject } from '../xml.ts';
import { parseOaXml } from './flat-xml.ts';
import type { OaArticle, OaReply } from './types.ts';

/** OA pushes are XML; the same protocol in JSON is what mini-program message push may choose (WECHAT-VECTORS.md §1.1). */
export type OaFormat = 'xml' | 'json';

/** News replies carry at most 8 articles (WECHAT.md §1). */
export const MAX_NEWS_ARTICLES = 8;
/** WeChat cuts text replies at 2048 bytes; characters are bounded here, the byte limit is checked too. */
export const MAX_REPLY_TEXT_BYTES = 2_048;
const MAX_ARTICLE_TITLE_CHARS = 128;
const MAX_ARTICLE_DESCRIPTION_CHARS = 512;
const MAX_ARTICLE_URL_CHARS = 1_024;
/** The body WeChat answers with when no passive reply is wanted. */
export const SUCCESS_BODY = 'success';
/** A JSON push nests no deeper than this (it is flat in practice). */
const MAX_JSON_DEPTH = 4;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** JSON when the first non-blank byte is `{`; XML otherwise (the parser then decides whether it is XML at all). */
export function detectFormat(body: Buffer | string): OaFormat {
  const text = typeof body === 'string';
  for (let i = 0; i < body.length; i++) {
    const b = text ? body.charCodeAt(i) : (body as Buffer)[i];
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b ? 'json' : 'xml';
  }
  return 'xml';
}

function toFields(value: unknown, depth: number): XmlObject {
  if (depth > MAX_JSON_DEPTH) throw new AppError('validation_failed', 'JSON nested too deep');
  const out: XmlObject = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (FORBIDDEN_KEYS.has(k)) continue;
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[k] = toFields(v, depth + 1);
  }
  return out;
}

/**
 * A JSON push as the same field map the XML parser gives. MsgId is a 64-bit integer that
 * JSON.parse would round, so bare integers under its names are quoted before parsing.
 */
export function parseWechatJson(body: Buffer | string, opts: { maxBytes?: number } = {}): XmlObject {
  const maxBytes = opts.maxBytes ?? MAX_XML_BYTES;
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) throw new AppError('payload_too_large', `JSON body over ${maxBytes} bytes`);
  const text = typeof body === 'string' ? body : decodeUtf8(body, 'JSON body');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/("Msg[Ii][dD]"\s*:\s*)(\d+)/g, '$1"$2"'));
  } catch {
    throw new AppError('validation_failed', 'body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new AppError('validation_failed', 'the JSON body must be an object');
  return toFields(parsed, 0);
}

export function parseFields(body: Buffer | string, format: OaFormat): XmlObject {
  return format === 'json' ? parseWechatJson(body) : parseOaXml(body);
}

function assertArticle(a: OaArticle): void {
  if (typeof a.title !== 'string' || a.title.length === 0 || a.title.length > MAX_ARTICLE_TITLE_CHARS) throw new Error('a news article needs a title of 1–128 characters');
  if (a.description !== undefined && a.description.length > MAX_ARTICLE_DESCRIPTION_CHARS) throw new Error('a news article description is too long');
  for (const u of [a.picUrl, a.url]) {
    if (u !== undefined && (u.length > MAX_ARTICLE_URL_CHARS || !/^https?:\/\//.test(u))) throw new Error('a news article URL must be http(s) and at most 1024 characters');
  }
}

/** Throws (a programming error in the handler, not the caller's) when a reply breaks WeChat's limits. */
export function assertReply(reply: OaReply): void {
  if (reply.type === 'text') {
    if (typeof reply.content !== 'string' || reply.content.length === 0) throw new Error('a text reply needs content');
    if (Buffer.byteLength(reply.content) > MAX_REPLY_TEXT_BYTES) throw new Error(`a text reply is at most ${MAX_REPLY_TEXT_BYTES} bytes`);
    return;
  }
  if (!Array.isArray(reply.articles) || reply.articles.length === 0 || reply.articles.length > MAX_NEWS_ARTICLES) {
    throw new Error(`a news reply carries 1–${MAX_NEWS_ARTICLES} articles`);
  }
  reply.articles.forEach(assertArticle);
}

/**
 * The passive reply's plaintext: to the user (`openid`) from the account (`accountId`, the push's
 * ToUserName), fields in WeChat's order (WECHAT.md §1 "Passive reply").
 */
export function buildPassiveReply(reply: OaReply, to: { openid: string; accountId: string; createTime: number }, format: OaFormat): string {
  assertReply(reply);
  if (reply.type === 'text' && format === 'xml') {
    // The common answer, written directly: the same bytes buildXml gives for these fields (wire.test.ts).
    if (!Number.isFinite(to.createTime)) throw new Error('XML field CreateTime is not a finite number');
    return `<xml><ToUserName>${cdata(to.openid)}</ToUserName><FromUserName>${cdata(to.accountId)}</FromUserName><CreateTime>${to.createTime}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>${cdata(reply.content)}</Content></xml>`;
  }
  const head = { ToUserName: to.openid, FromUserName: to.accountId, CreateTime: to.createTime };
  const fields: Record<string, XmlField> =
    reply.type === 'text'
      ? { ...head, MsgType: 'text', Content: reply.content }
      : {
          ...head,
          MsgType: 'news',
          ArticleCount: reply.articles.length,
          Articles: {
            item: reply.articles.map((a) => ({ Title: a.title, Description: a.description ?? '', PicUrl: a.picUrl ?? '', Url: a.url ?? '' })),
          },
        };
  if (format === 'xml') return buildXml(fields);
  if (reply.type === 'text') return JSON.stringify(fields);
  return JSON.stringify({ ...head, MsgType: 'news', ArticleCount: reply.articles.length, Articles: (fields.Articles as { item: XmlField[] }).item });
}

/** The encrypted answer: Encrypt, MsgSignature over (token, TimeStamp, Nonce, Encrypt), TimeStamp, Nonce. */
export function buildEnvelope(crypto: MsgCrypto, plaintext: string, timestamp: string, nonce: string, format: OaFormat, random16?: Buffer): string {
  const encrypt = crypto.encrypt(plaintext, random16);
  const signature = crypto.signature(timestamp, nonce, encrypt);
  const ts = Number(timestamp);
  if (format === 'json') return JSON.stringify({ Encrypt: encrypt, MsgSignature: signature, TimeStamp: ts, Nonce: nonce });
  if (!Number.isFinite(ts)) throw new Error('XML field TimeStamp is not a finite number');
  // buildXml's bytes for these four fields, written directly (base64 and hex need no CDATA escaping).
  return `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt><MsgSignature><![CDATA[${signature}]]></MsgSignature><TimeStamp>${ts}</TimeStamp><Nonce>${cdata(nonce)}</Nonce></xml>`;
}

/** A reply as plain text: what a customer-service message (text only) or the simulated phone shows; at most MAX_REPLY_TEXT_BYTES. */
export function replyAsText(reply: OaReply): string {
  if (reply.type === 'text') return reply.content;
  return truncateUtf8(reply.articles.map((a) => [a.title, a.description, a.url].filter((s) => s).join('\n')).join('\n\n'), MAX_REPLY_TEXT_BYTES);
}

/** The longest prefix of `text` within `maxBytes` of UTF-8, never splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}…`;
}
