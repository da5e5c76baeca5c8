// Fuzzes the OA push decoders below the HTTP route: XML (fast path against the hardened parser), JSON, field validation and safe-mode decryption answer typed 4xx errors only.
import fc from 'fast-check';
import * as wecomCrypto from '@wecom/crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { MsgCrypto } from '../../../src/wechat/crypto/msg-crypto.ts';
import { parseOaXml, readFlatXml } from '../../../src/wechat/oa/flat-xml.ts';
import { dedupKeyOf, parseInbound } from '../../../src/wechat/oa/inbound.ts';
import { detectFormat, parseFields, parseWechatJson } from '../../../src/wechat/oa/wire.ts';
import { parseWechatXml } from '../../../src/wechat/xml.ts';
import { fuzzParams, fuzzRuns, fuzzSeed, fuzzTimeoutMs, hostileString } from './fuzz.ts';
import { pushFields, renderPush, renderXml, XML_ATTACKS, xmlishText } from './wechat-arbitraries.ts';

const seed = fuzzSeed('oa-wire');
const SMOKE_RUNS = 200;
const params = fuzzParams(seed, SMOKE_RUNS);
const TIMEOUT_MS = fuzzTimeoutMs(fuzzRuns(SMOKE_RUNS), 5);
const NOW_SEC = 1_773_800_000;

/** A decoder's answer: its value, or the client-error AppError it threw. Anything else (a TypeError, a 5xx) fails the property. */
function decoded<T>(run: () => T): { ok: true; value: T } | { ok: false; error: AppError } {
  try {
    return { ok: true, value: run() };
  } catch (err) {
    if (err instanceof AppError && err.status >= 400 && err.status < 500) return { ok: false, error: err };
    throw err;
  }
}

/** Any body a client can send: bytes, UTF-8 of any string, XML-ish noise, attacks, and well-formed pushes. */
const anyBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  hostileString(200).map((s) => Buffer.from(s)),
  xmlishText.map((s) => Buffer.from(s)),
  fc.constantFrom(...XML_ATTACKS).map((s) => Buffer.from(s)),
  pushFields('gh_0123456789ab', NOW_SEC).chain(renderPush).map((p) => Buffer.from(p.body)),
  fc.json().map((s) => Buffer.from(s)),
);

const key43 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'), minLength: 43, maxLength: 43 });

describe('OA body decoding', () => {
  it('parses any body to fields and a typed message, or refuses it with a 4xx AppError', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        const format = detectFormat(body);
        const fields = decoded(() => parseFields(body, format));
        if (!fields.ok) return;
        const msg = decoded(() => parseInbound(fields.value, 'tenant-a'));
        if (msg.ok) expect(dedupKeyOf(msg.value, fields.value)).toMatch(/^(m:\d{1,20}|e:.+)$/);
        // Nothing a body says may reach Object.prototype.
        expect(Object.getPrototypeOf(fields.value)).toBe(Object.prototype);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('refuses every DTD, entity and XInclude attack without expanding it', () => {
    for (const attack of XML_ATTACKS) {
      const r = decoded(() => parseOaXml(Buffer.from(attack)));
      if (r.ok) expect(JSON.stringify(r.value)).not.toMatch(/lol|root:|xxe/);
    }
    for (const attack of XML_ATTACKS.filter((a) => /DOCTYPE|ENTITY|<\?(?!xml\s)/i.test(a))) {
      expect(decoded(() => parseOaXml(Buffer.from(attack))).ok).toBe(false);
    }
  });

  it('reads flat XML on the fast path exactly as the hardened parser does, and only what it accepts', () => {
    const text = fc.oneof(
      xmlishText,
      pushFields('gh_0123456789ab', NOW_SEC).chain((f) => fc.record({ plainText: fc.boolean(), newlines: fc.boolean() }).map((s) => renderXml(f, s))),
    );
    fc.assert(
      fc.property(text, (t) => {
        const flat = readFlatXml(t);
        if (flat === undefined) return;
        const full = decoded(() => parseWechatXml(t));
        // The fast path may only take what the full parser accepts, and must read it the same way.
        // One exception: the full parser's DTD / processing-instruction screen reads the raw text, so
        // it also refuses `<?` or `<!DOCTYPE` typed inside a CDATA value; the fast path rightly keeps it as text.
        if (!full.ok) {
          const withoutCdataText = t.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '<![CDATA[]]>');
          if (decoded(() => parseWechatXml(withoutCdataText)).ok) return;
          throw new Error(`fast path accepted what the hardened parser refuses (${full.error.message}): ${JSON.stringify(t)}`);
        }
        // Known, harmless differences: the full parser keeps the whitespace between elements as a
        // '#text' field, and normalises line ends (\r\n, \r → \n) as XML 1.0 §2.11 says; the fast path keeps them.
        const { '#text': _whitespace, ...fullFields } = full.value;
        const lineEnds = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\r\n?/g, '\n') : v]));
        expect(lineEnds(flat)).toEqual(fullFields);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('keeps prototype keys of a JSON push out of its fields', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom('__proto__', 'constructor', 'prototype'), (v, key) => {
        const body = `{"${key}":{"polluted":true},"x":${JSON.stringify(v) ?? 'null'}}`;
        const r = decoded(() => parseWechatJson(body));
        if (r.ok) expect(Object.hasOwn(r.value, key)).toBe(false);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      params,
    );
  }, TIMEOUT_MS);
});

describe('safe-mode crypto', () => {
  it('round-trips any message, and @wecom/crypto (WeChat’s side) reads what we encrypt and vice versa', () => {
    fc.assert(
      fc.property(key43, fc.string({ unit: 'binary', maxLength: 300 }), fc.stringMatching(/^wx[0-9a-f]{16}$/), (key, message, appId) => {
        const c = new MsgCrypto('token', key, appId);
        expect(c.decrypt(c.encrypt(message))).toEqual({ message, receiveId: appId });
        expect(wecomCrypto.decrypt(key, c.encrypt(message))).toMatchObject({ message, id: appId });
        expect(c.decrypt(wecomCrypto.encrypt(key, message, appId)).message).toBe(message);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('refuses random, truncated and tampered envelopes with a 4xx AppError, never a crash', () => {
    const tamper = fc.record({ at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }), cut: fc.nat(64) });
    fc.assert(
      fc.property(key43, fc.string({ maxLength: 200 }), tamper, hostileString(120), (key, message, t, junk) => {
        const c = new MsgCrypto('token', key, 'wx0123456789abcdef');
        const good = Buffer.from(c.encrypt(message), 'base64');
        const flipped = Buffer.from(good);
        flipped[t.at % flipped.length] = flipped[t.at % flipped.length]! ^ t.bits;
        const other = new MsgCrypto('token', key, 'wxfedcba9876543210');
        for (const envelope of [flipped.toString('base64'), good.subarray(0, Math.max(0, good.length - t.cut)).toString('base64'), junk, other.encrypt(message)]) {
          const r = decoded(() => c.decrypt(envelope));
          if (r.ok) expect(typeof r.value.message).toBe('string');
        }
        // The context is reused across messages: a refusal must not corrupt the next decryption.
        expect(c.decrypt(c.encrypt(message)).message).toBe(message);
      }),
      params,
    );
  }, TIMEOUT_MS);
});
