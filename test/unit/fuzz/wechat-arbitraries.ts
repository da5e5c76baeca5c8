// fast-check arbitraries for Official Account pushes: XML-ish noise, DTD and entity attacks, and well-formed messages with random field values (XML or JSON).
import fc from 'fast-check';
import { cdata } from '../../../src/wechat/xml.ts';

/** Pieces XML parsers trip on: markup, CDATA edges, declarations, entities, prototype keys, BOMs, NULs. */
const XML_TOKENS = [
  '<xml>', '</xml>', '<![CDATA[', ']]>', ']]]]><![CDATA[>', '<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="UTF-7"?>',
  '<!DOCTYPE xml [<!ENTITY a "aaaa">]>', '<!ENTITY', '<!doctype', '&a;', '&lt;', '&amp;', '&#x41;', '&#0;', '&#xD800;', '&', '<!-- c -->', '<?php x ?>',
  '<ToUserName>', '</ToUserName>', '<FromUserName>', '</FromUserName>', '<MsgType>', '</MsgType>', '<Content>', '</Content>', '<Encrypt>', '</Encrypt>',
  '<MsgId>', '</MsgId>', '<CreateTime>', '</CreateTime>', '<a b="c">', '<a/>', '</a>', '<__proto__>', '</__proto__>', '<constructor>', '</constructor>',
  '<item>', '</item>', '<', '>', '/', '"', "'", '=', '\n', ' ', '\t', '\u0000', '\ufeff', '\ud800', '余额', 'text', 'event', '1348831860',
];

/** Random sequences of XML tokens and short strings: mostly malformed, sometimes accidentally well formed. */
export const xmlishText: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...XML_TOKENS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) }), { maxLength: 40 })
  .map((parts) => parts.join(''));

/** Documents that must be refused by any hardened parser: entity expansion, external entities, DTDs, XInclude. */
export const XML_ATTACKS: readonly string[] = [
  // Billion laughs.
  '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><xml><Content>&lol3;</Content></xml>',
  // External entity (XXE) and an external DTD.
  '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>',
  '<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd"><xml><Content>x</Content></xml>',
  '<!doctype xml [<!entity % p SYSTEM "http://127.0.0.1:1/p.dtd"> %p;]><xml/>',
  '<!DOCTYPE xml [<!ELEMENT xml ANY><!ATTLIST xml a CDATA "x">]><xml><a>1</a></xml>',
  // XInclude, processing instructions, a stylesheet.
  '<xml xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/></xml>',
  '<?xml-stylesheet type="text/xsl" href="http://127.0.0.1:1/x.xsl"?><xml><a>1</a></xml>',
  '<xml><?php system("id") ?><a>1</a></xml>',
  // Undeclared entities and character references in the flat shape (the fast path must hand them over).
  '<xml><ToUserName>a</ToUserName><FromUserName>&unknown;</FromUserName></xml>',
  '<xml><Content>&#0;&#xFFFE;&#x110000;</Content></xml>',
  // Deep nesting and a huge attribute-free body.
  `<xml>${'<a>'.repeat(2_000)}x${'</a>'.repeat(2_000)}</xml>`,
  `<xml><Content><![CDATA[${'A'.repeat(70 * 1024)}]]></Content></xml>`,
  // Not XML at all, or another root.
  '<html><body>hi</body></html>',
  '<xml>',
  '</xml><xml>',
  '\ufeff\ufeff<xml></xml>',
];

/** An openid the way WeChat writes them: `o` and 27 base64url characters. */
export const openidLike = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'), minLength: 27, maxLength: 27 }).map((s) => `o${s}`);

const MSG_TYPES = ['text', 'image', 'voice', 'video', 'shortvideo', 'location', 'link', 'event', 'file', 'miniprogrampage'];
const EVENTS = ['subscribe', 'unsubscribe', 'CLICK', 'VIEW', 'SCAN', 'LOCATION', 'TEMPLATESENDJOBFINISH', 'view_miniprogram', 'debug_demo'];
const TEXTS = ['余额', '余额 1234', '明细', '明细#0000', '帮助', 'help', '绑卡', '退订提醒', '开启提醒', 'ＹＥ', '？'];
const MENU_KEYS = ['BALANCE', 'STATEMENT', 'HELP', 'BIND', 'qrscene_1', 'https://example.com/h5/'];

const numberText = fc.oneof(fc.double({ noNaN: false }).map(String), fc.integer().map(String), fc.constantFrom('1e400', '-0', '0x10', '', ' 1', '1.'));
const msgIdText = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String) },
  // Past the de-duplication key's 200-character column.
  { weight: 1, arbitrary: fc.integer({ min: 190, max: 400 }).map((n) => '9'.repeat(n)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 24 }) },
);
const fieldText = (known: readonly string[]) => fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...known) }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) });

/**
 * The fields of a push with random values: mostly the right names and plausible values (so many
 * cases pass verification and reach the handler), sometimes wrong types, overlong values, extra
 * and prototype-named fields. `account` is the OA's original id (ToUserName), `openid` a sender.
 */
export function pushFields(account: string | undefined, nowSec: number): fc.Arbitrary<Record<string, string>> {
  const extraName = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'Encrypt', 'MsgID', 'Ticket', 'Precision', 'ScanCodeInfo'), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/));
  return fc
    .record(
      {
        ToUserName: fc.oneof({ weight: 8, arbitrary: fc.constant(account ?? 'gh_fuzz') }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) }),
        FromUserName: fc.oneof({ weight: 8, arbitrary: openidLike }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) }),
        CreateTime: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: nowSec - 600, max: nowSec + 600 }).map(String) }, { weight: 1, arbitrary: numberText }),
        MsgType: fieldText(MSG_TYPES),
        Content: fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...TEXTS) }, { weight: 2, arbitrary: fc.string({ maxLength: 60 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 4_000, maxLength: 4_200 }) }),
        MsgId: msgIdText,
        Event: fieldText(EVENTS),
        EventKey: fieldText(MENU_KEYS),
        Latitude: numberText,
        Longitude: numberText,
        Location_X: numberText,
        Location_Y: numberText,
        Status: fc.string({ maxLength: 10 }),
        MsgID: msgIdText,
      },
      { requiredKeys: ['ToUserName', 'FromUserName', 'CreateTime', 'MsgType'] },
    )
    .chain((fields) =>
      fc
        .oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.dictionary(extraName, fc.string({ maxLength: 20 }), { maxKeys: 3 }) })
        .map((extra) => ({ ...extra, ...fields }) as Record<string, string>),
    );
}

/** Flat WeChat XML for `fields`, in random order, values in CDATA or as plain text when that is safe. */
export function renderXml(fields: Record<string, string>, style: { plainText: boolean; newlines: boolean }): string {
  const nl = style.newlines ? '\n' : '';
  const items = Object.entries(fields).map(([k, v]) => `<${k}>${style.plainText && /^[^<&\]]*$/.test(v) ? v : cdata(v)}</${k}>`);
  return `<xml>${nl}${items.join(nl)}${nl}</xml>`;
}

/** The same fields as a JSON push (the format mini-program message push may choose); numbers stay strings unless asked. */
export function renderJson(fields: Record<string, string>, bareNumbers: boolean): string {
  const body = Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${bareNumbers && /^\d{1,25}$/.test(v) ? v : JSON.stringify(v)}`);
  return `{${body.join(',')}}`;
}

/** A rendered push: XML (CDATA or plain) or JSON. */
export function renderPush(fields: Record<string, string>): fc.Arbitrary<{ body: string; format: 'xml' | 'json' }> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ plainText: fc.boolean(), newlines: fc.boolean() }).map((s) => ({ body: renderXml(fields, s), format: 'xml' as const })) },
    { weight: 1, arbitrary: fc.boolean().map((bare) => ({ body: renderJson(fields, bare), format: 'json' as const })) },
  );
}
