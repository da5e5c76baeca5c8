// A fast reader for the flat XML WeChat actually sends (one level of elements, CDATA or plain text); anything else goes to the hardened parser.
import { AppError } from '../../app/errors.ts';
import { decodeUtf8 } from '../crypto/msg-crypto.ts';
import { MAX_XML_BYTES, parseWechatXml, type XmlObject } from '../xml.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/**
 * Reads `<xml><A><![CDATA[…]]></A><B>123</B>…</xml>` (whitespace between elements allowed) into
 * the same field map parseWechatXml gives, or returns undefined for anything outside that shape:
 * a declaration, DTD, comment, attribute, entity, nesting, repeated or odd element names. Every
 * push and envelope WeChat sends fits; the rest is parsed (and refused where needed) by the full,
 * hardened parser. The shape accepted here is a strict subset of well-formed XML with nothing to
 * expand, so taking this path cannot admit what the full parser refuses.
 */
export function readFlatXml(text: string): XmlObject | undefined {
  let i = skipSpace(text, 0);
  if (!text.startsWith('<xml>', i)) return undefined;
  i += 5;
  const out: XmlObject = {};
  for (;;) {
    i = skipSpace(text, i);
    if (text.startsWith('</xml>', i)) return skipSpace(text, i + 6) === text.length ? out : undefined;
    if (text.charCodeAt(i) !== 0x3c) return undefined;
    const gt = text.indexOf('>', i + 1);
    if (gt < 0) return undefined;
    const name = text.slice(i + 1, gt);
    if (!NAME.test(name) || FORBIDDEN_NAMES.has(name) || Object.hasOwn(out, name)) return undefined;
    i = gt + 1;
    let value: string;
    if (text.startsWith(CDATA_OPEN, i)) {
      // Consecutive sections join: that is how a literal "]]>" is carried (xml.ts cdata()).
      value = '';
      while (text.startsWith(CDATA_OPEN, i)) {
        const end = text.indexOf(CDATA_CLOSE, i + CDATA_OPEN.length);
        if (end < 0) return undefined;
        value += text.slice(i + CDATA_OPEN.length, end);
        i = end + CDATA_CLOSE.length;
      }
    } else {
      const lt = text.indexOf('<', i);
      if (lt < 0) return undefined;
      value = text.slice(i, lt);
      // Entity references and a stray "]]>" are the full parser's business.
      if (value.includes('&') || value.includes(CDATA_CLOSE)) return undefined;
      i = lt;
    }
    if (text.charCodeAt(i) !== 0x3c || text.charCodeAt(i + 1) !== 0x2f || !text.startsWith(name, i + 2) || text.charCodeAt(i + 2 + name.length) !== 0x3e) return undefined;
    i += name.length + 3;
    out[name] = value;
  }
}

/** parseWechatXml with a fast path for flat messages: same limits, same strict UTF-8, same answers. */
export function parseOaXml(body: Buffer | string, maxBytes = MAX_XML_BYTES): XmlObject {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) throw new AppError('payload_too_large', `XML body over ${maxBytes} bytes`);
  const text = typeof body === 'string' ? body : decodeUtf8(body, 'XML body');
  return readFlatXml(text) ?? parseWechatXml(text, { maxBytes });
}
