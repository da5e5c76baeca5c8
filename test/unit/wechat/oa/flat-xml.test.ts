// The flat-XML fast path gives exactly what the hardened parser gives, and hands everything else to it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseOaXml, readFlatXml } from '../../../../src/wechat/oa/flat-xml.ts';
import { cdata, parseWechatXml } from '../../../../src/wechat/xml.ts';
import { AppError } from '../../../../src/app/errors.ts';
import { check, propertySeed } from '../../shared/seed.ts';

const seed = propertySeed('flat-xml');

const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,11}$/).filter((n) => !['__proto__', 'constructor', 'prototype', 'xml'].includes(n));
// Text WeChat puts in CDATA: anything, including "]]>", markup and entities (cdata() splits "]]>").
const cdataText = fc.string({ unit: fc.constantFrom('a', '中', ' ', '\n', '<', '>', '&', ']', '[', '!', 'x', 'é', '🙂'), maxLength: 30 });
const bareText = fc.stringMatching(/^[0-9A-Za-z_.:-]{0,20}$/);
const ws = fc.constantFrom('', '\n', '\n    ', ' ');
const field = fc.tuple(name, fc.oneof(cdataText.map((t) => ({ t, c: true })), bareText.map((t) => ({ t, c: false }))), ws);
const doc = fc.uniqueArray(field, { selector: ([n]) => n, minLength: 1, maxLength: 8 }).chain((fields) =>
  ws.map((lead) => `${lead}<xml>${fields.map(([n, v, w]) => `${w}<${n}>${v.c ? cdata(v.t) : v.t}</${n}>`).join('')}\n</xml>`),
);

describe('flat XML fast path', () => {
  it('reads every flat WeChat-shaped document as parseWechatXml does', () => {
    check(
      seed,
      fc.property(doc, (xml) => {
        const fast = readFlatXml(xml);
        expect(fast).toBeDefined();
        // The full parser also reports the whitespace between elements as "#text"; nothing reads it.
        const { '#text': _ws, ...full } = parseWechatXml(xml);
        expect(fast).toEqual(full);
      }),
      300,
    );
  });

  it('declines what is not flat, so the hardened parser decides (and refuses DTDs and entities)', () => {
    const declined = [
      '<?xml version="1.0"?><xml><A>1</A></xml>',
      '<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>',
      '<xml><A>&lt;</A></xml>',
      '<xml><Articles><item><Title>t</Title></item></Articles></xml>',
      '<xml><A>1</A><A>2</A></xml>',
      '<xml><A x="1">1</A></xml>',
      '<xml><A/></xml>',
      '<xml><!-- c --><A>1</A></xml>',
      '<xml><__proto__>1</__proto__></xml>',
      '<xml><A>1</B></xml>',
      '<xml><A>1</A></xml>trailing',
      '<xml><A><![CDATA[1]]>x</A></xml>',
      '<notxml><A>1</A></notxml>',
    ];
    for (const xml of declined) expect(readFlatXml(xml), xml).toBeUndefined();
    const refused = (xml: string) => {
      try {
        parseOaXml(xml);
      } catch (e) {
        return (e as AppError).code;
      }
      return 'accepted';
    };
    expect(refused('<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>')).toBe('validation_failed');
    expect(refused('<xml><A>1</B></xml>')).toBe('validation_failed');
    expect(parseOaXml('<xml><A>&lt;</A></xml>')).toEqual(parseWechatXml('<xml><A>&lt;</A></xml>'));
    expect(parseOaXml('<xml><Articles><item><Title>t</Title></item></Articles></xml>')).toEqual({ Articles: { item: { Title: 't' } } });
  });

  it('keeps the size limit and strict UTF-8 of the hardened parser', () => {
    expect(() => parseOaXml(`<xml><A>${'x'.repeat(70_000)}</A></xml>`)).toThrow(expect.objectContaining({ code: 'payload_too_large' }));
    expect(() => parseOaXml(Buffer.from([0x3c, 0x78, 0x6d, 0x6c, 0x3e, 0xff, 0x3c, 0x2f, 0x78, 0x6d, 0x6c, 0x3e]))).toThrow(expect.objectContaining({ code: 'validation_failed' }));
  });
});
