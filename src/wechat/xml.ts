// WeChat's XML: a hardened parser (no DTD or entities, bounded size, strict UTF-8, `<xml>` root) and a CDATA builder.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { AppError } from '../app/errors.ts';
import { decodeUtf8 } from './crypto/msg-crypto.ts';

/** A WeChat message or event is a few KB; anything past this is refused before parsing. */
export const MAX_XML_BYTES = 64 * 1024;
/** Nesting WeChat uses: xml > Articles > item > field, or xml > SendPicsInfo > PicList > item > field. */
const MAX_XML_DEPTH = 6;

export type XmlValue = string | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  // Every value is a string, as WeChat sends it; callers parse numbers they expect (CreateTime, MsgId).
  parseTagValue: false,
  trimValues: false,
  // Entities are never expanded: no DOCTYPE passes the checks below, and &lt; etc. stay text.
  processEntities: false,
  htmlEntities: false,
  cdataPropName: false,
  allowBooleanAttributes: false,
});

function depthOf(v: unknown, d = 0): number {
  if (d > MAX_XML_DEPTH) return d;
  if (Array.isArray(v)) return Math.max(d, ...v.map((x) => depthOf(x, d)));
  if (v !== null && typeof v === 'object') return Math.max(d + 1, ...Object.values(v).map((x) => depthOf(x, d + 1)));
  return d;
}

/**
 * Runs one fast-xml-parser call. It throws plain Errors for input it refuses on its own (element
 * names such as `__proto__` or `constructor`, nesting past its internal limit): those are the
 * body's fault, so they are a 400 like any other malformed XML, not a 500. Found by fuzzing.
 */
function parserStep<T>(run: () => T): T {
  try {
    return run();
  } catch {
    throw new AppError('validation_failed', 'malformed XML: an element name or the nesting is refused');
  }
}

/**
 * Parses a WeChat XML body. Refuses (400 validation_failed) anything WeChat never sends and a
 * parser could be attacked with: a DTD or entity declaration (billion laughs, XXE), a processing
 * instruction other than the XML declaration, a body over `maxBytes`, invalid UTF-8, malformed XML,
 * a root other than `<xml>`, or nesting deeper than WeChat's own.
 */
export function parseWechatXml(body: string | Buffer, opts: { maxBytes?: number } = {}): XmlObject {
  const maxBytes = opts.maxBytes ?? MAX_XML_BYTES;
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) throw new AppError('payload_too_large', `XML body over ${maxBytes} bytes`);
  const text = typeof body === 'string' ? body : decodeUtf8(body, 'XML body');
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(text)) throw new AppError('validation_failed', 'XML with a DTD or entity declaration is refused');
  if (/<\?(?!xml\s)/i.test(text)) throw new AppError('validation_failed', 'XML processing instructions are refused');
  const valid = parserStep(() => XMLValidator.validate(text));
  if (valid !== true) throw new AppError('validation_failed', `malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parserStep(() => parser.parse(text) as Record<string, unknown>);
  const roots = Object.keys(doc).filter((k) => k !== '?xml');
  if (roots.length !== 1 || roots[0] !== 'xml') throw new AppError('validation_failed', 'the XML root must be <xml>');
  const root = doc.xml;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) throw new AppError('validation_failed', 'the <xml> element is empty');
  if (depthOf(root) > MAX_XML_DEPTH) throw new AppError('validation_failed', 'XML nested too deep');
  return root as XmlObject;
}

/** A string field of a parsed message, or a validation error naming it. */
export function requireField(xml: XmlObject, name: string, opts: { maxLength?: number; pattern?: RegExp } = {}): string {
  const v = xml[name];
  if (typeof v !== 'string' || v.length === 0) throw AppError.validation([{ field: name, message: 'is required' }]);
  if (opts.maxLength !== undefined && v.length > opts.maxLength) throw AppError.validation([{ field: name, message: `is longer than ${opts.maxLength}` }]);
  if (opts.pattern && !opts.pattern.test(v)) throw AppError.validation([{ field: name, message: 'is malformed' }]);
  return v;
}

/** An optional string field (absent or empty → undefined). */
export function optionalField(xml: XmlObject, name: string): string | undefined {
  const v = xml[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** `<![CDATA[…]]>`, splitting any `]]>` inside so the text cannot close the section. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** A field value: strings go in CDATA, numbers bare (CreateTime, ArticleCount), objects nest, arrays repeat. */
export type XmlField = string | number | { [key: string]: XmlField } | XmlField[];

function renderField(name: string, value: XmlField): string {
  if (Array.isArray(value)) return value.map((v) => renderField(name, v)).join('');
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`XML field ${name} is not a finite number`);
    return `<${name}>${value}</${name}>`;
  }
  if (typeof value === 'string') return `<${name}>${cdata(value)}</${name}>`;
  return `<${name}>${Object.entries(value).map(([k, v]) => renderField(k, v)).join('')}</${name}>`;
}

/** `<xml>…</xml>` with the fields in the given order, as WeChat's own replies are written. */
export function buildXml(fields: Record<string, XmlField>): string {
  return `<xml>${Object.entries(fields).map(([k, v]) => renderField(k, v)).join('')}</xml>`;
}
