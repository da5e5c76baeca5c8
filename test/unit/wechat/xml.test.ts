// The hardened WeChat XML parser refuses what WeChat never sends, and the builder writes WeChat's own reply shape.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { buildXml, cdata, MAX_XML_BYTES, parseWechatXml, requireField } from '../../../src/wechat/xml.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : `not an AppError: ${String(e)}`;
  }
  return undefined;
}

const TEXT_MSG =
  '<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[余额 1234 <b>&amp;]]></Content><MsgId>1234567890123456</MsgId></xml>';

describe('parseWechatXml', () => {
  it('reads a text message with CDATA values as strings, keeping markup and entities inside CDATA as text', () => {
    const m = parseWechatXml(TEXT_MSG);
    expect(m).toEqual({
      ToUserName: 'gh_97417a04a28d',
      FromUserName: 'oUser',
      CreateTime: '1348831860',
      MsgType: 'text',
      Content: '余额 1234 <b>&amp;',
      MsgId: '1234567890123456',
    });
  });

  it('keeps a 19-digit MsgId exact (never a float)', () => {
    expect(parseWechatXml('<xml><MsgId>4561255354251345929</MsgId></xml>').MsgId).toBe('4561255354251345929');
  });

  it('reads nested news articles and accepts an XML declaration and a Buffer', () => {
    const m = parseWechatXml(Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<xml><ArticleCount>2</ArticleCount><Articles><item><Title><![CDATA[a]]></Title></item><item><Title><![CDATA[b]]></Title></item></Articles></xml>'));
    expect(m.Articles).toEqual({ item: [{ Title: 'a' }, { Title: 'b' }] });
  });

  it('refuses a billion-laughs bomb, an external entity and any DOCTYPE without expanding anything', () => {
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><Content>&lol2;</Content></xml>`;
    const xxe = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>`;
    expect(codeOf(() => parseWechatXml(bomb))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml(xxe))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml('<!doctype xml><xml></xml>'))).toBe('validation_failed');
  });

  it('leaves entity references in text unexpanded', () => {
    expect(parseWechatXml('<xml><Content>a&amp;b&#x41;</Content></xml>').Content).toBe('a&amp;b&#x41;');
  });

  it('refuses a body over the limit before parsing it', () => {
    const big = `<xml><Content>${'x'.repeat(MAX_XML_BYTES)}</Content></xml>`;
    expect(codeOf(() => parseWechatXml(big))).toBe('payload_too_large');
    expect(codeOf(() => parseWechatXml(Buffer.alloc(10 * 1024 * 1024, 0x41)))).toBe('payload_too_large');
  });

  it('refuses invalid UTF-8, malformed XML, another root, an empty root, processing instructions and deep nesting', () => {
    expect(codeOf(() => parseWechatXml(Buffer.concat([Buffer.from('<xml><Content>'), Buffer.from([0xc3, 0x28]), Buffer.from('</Content></xml>')])))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml('<xml><Content>x</xml>'))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml('<root><a>1</a></root>'))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml('<xml></xml>'))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml('<?xml-stylesheet href="x"?><xml><a>1</a></xml>'))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml('<xml><a><b><c><d><e><f><g><h>1</h></g></f></e></d></c></b></a></xml>'))).toBe('validation_failed');
    expect(codeOf(() => parseWechatXml(''))).toBe('validation_failed');
  });
});

describe('requireField', () => {
  it('names a missing or malformed field', () => {
    const m = parseWechatXml(TEXT_MSG);
    expect(requireField(m, 'MsgType')).toBe('text');
    const e = (() => {
      try {
        requireField(m, 'Event');
      } catch (err) {
        return err as AppError;
      }
    })();
    expect(e?.extra.errors).toEqual([{ field: 'Event', message: 'is required' }]);
    expect(codeOf(() => requireField(m, 'CreateTime', { pattern: /^[a-z]+$/ }))).toBe('validation_failed');
  });
});

describe('buildXml', () => {
  it('writes the passive text reply byte for byte as WECHAT.md gives it', () => {
    expect(buildXml({ ToUserName: 'oUser', FromUserName: 'gh_1', CreateTime: 1714112445, MsgType: 'text', Content: '你好' })).toBe(
      '<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_1]]></FromUserName><CreateTime>1714112445</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>',
    );
  });

  it('nests news articles, repeating item, and survives a round trip through the parser', () => {
    const xml = buildXml({ ArticleCount: 2, Articles: { item: [{ Title: 'a', Url: 'https://x/?a=1&b=2' }, { Title: 'b]]>c', Url: 'u' }] } });
    expect(parseWechatXml(xml).Articles).toEqual({ item: [{ Title: 'a', Url: 'https://x/?a=1&b=2' }, { Title: 'b]]>c', Url: 'u' }] });
  });

  it('keeps text that contains the CDATA terminator inside the section', () => {
    expect(cdata('a]]>b')).toBe('<![CDATA[a]]]]><![CDATA[>b]]>');
    expect(parseWechatXml(`<xml><C>${cdata('a]]>b')}</C></xml>`).C).toBe('a]]>b');
  });
});
