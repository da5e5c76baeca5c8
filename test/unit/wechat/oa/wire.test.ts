// OA wire formats: passive replies byte for byte, news limits, JSON bodies, and the safe-mode reply envelope against the official vector.
import { describe, expect, it } from 'vitest';
import * as wecomCrypto from '@wecom/crypto';
import { MsgCrypto } from '../../../../src/wechat/crypto/msg-crypto.ts';
import { assertReply, buildEnvelope, buildPassiveReply, detectFormat, parseWechatJson, replyAsText } from '../../../../src/wechat/oa/wire.ts';
import { parseWechatXml } from '../../../../src/wechat/xml.ts';
import { AppError } from '../../../../src/app/errors.ts';

const to = { openid: 'toUser', accountId: 'fromUser', createTime: 12345678 };

describe('passive replies', () => {
  it('builds the official text reply sample byte for byte (without the sample’s line breaks)', () => {
    expect(buildPassiveReply({ type: 'text', content: '你好' }, to, 'xml')).toBe(
      '<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>12345678</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>',
    );
  });

  it('keeps line breaks and splits a literal ]]> so the content cannot close its CDATA section', () => {
    const xml = buildPassiveReply({ type: 'text', content: '第一行\n]]><b>x</b>' }, to, 'xml');
    expect(xml).toContain('<Content><![CDATA[第一行\n]]]]><![CDATA[><b>x</b>]]></Content>');
    expect(parseWechatXml(xml).Content).toBe('第一行\n]]><b>x</b>');
  });

  it('builds a news reply with ArticleCount and one item per article, in WeChat’s field order', () => {
    const xml = buildPassiveReply(
      {
        type: 'news',
        articles: [
          { title: '余额', description: '尾号 1234', picUrl: 'https://example.com/a.png', url: 'https://example.com/a' },
          { title: '明细' },
        ],
      },
      to,
      'xml',
    );
    expect(xml).toBe(
      '<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>12345678</CreateTime><MsgType><![CDATA[news]]></MsgType><ArticleCount>2</ArticleCount><Articles>' +
        '<item><Title><![CDATA[余额]]></Title><Description><![CDATA[尾号 1234]]></Description><PicUrl><![CDATA[https://example.com/a.png]]></PicUrl><Url><![CDATA[https://example.com/a]]></Url></item>' +
        '<item><Title><![CDATA[明细]]></Title><Description><![CDATA[]]></Description><PicUrl><![CDATA[]]></PicUrl><Url><![CDATA[]]></Url></item>' +
        '</Articles></xml>',
    );
  });

  it('refuses news with no article or more than 8, an empty text and a text over 2048 bytes', () => {
    const article = { title: 't' };
    expect(() => assertReply({ type: 'news', articles: [] })).toThrow(/1–8/);
    expect(() => assertReply({ type: 'news', articles: Array(9).fill(article) })).toThrow(/1–8/);
    expect(() => assertReply({ type: 'news', articles: Array(8).fill(article) })).not.toThrow();
    expect(() => assertReply({ type: 'news', articles: [{ title: 't', url: 'javascript:alert(1)' }] })).toThrow(/http/);
    expect(() => assertReply({ type: 'text', content: '' })).toThrow();
    expect(() => assertReply({ type: 'text', content: '字'.repeat(683) })).toThrow(/2048/);
    expect(() => assertReply({ type: 'text', content: '字'.repeat(682) })).not.toThrow();
  });

  it('renders news as text for customer-service messages and the phone', () => {
    expect(replyAsText({ type: 'news', articles: [{ title: 'A', description: 'd', url: 'https://x/a' }, { title: 'B' }] })).toBe('A\nd\nhttps://x/a\n\nB');
    expect(replyAsText({ type: 'text', content: 'hi' })).toBe('hi');
  });

  it('builds JSON replies for JSON-format pushes', () => {
    expect(JSON.parse(buildPassiveReply({ type: 'text', content: 'ok' }, to, 'json'))).toEqual({
      ToUserName: 'toUser',
      FromUserName: 'fromUser',
      CreateTime: 12345678,
      MsgType: 'text',
      Content: 'ok',
    });
  });
});

describe('safe-mode reply envelope', () => {
  it('reproduces the official message-push reply vector (V1: Encrypt, MsgSignature, TimeStamp, Nonce)', () => {
    const crypto = new MsgCrypto('AAAAA', 'A'.repeat(43), 'wxba5fad812f8e6fb9');
    const out = JSON.parse(buildEnvelope(crypto, '{"demo_resp":"good luck"}', '1713424427', '415670741', 'json', Buffer.from('707722b803182950')));
    expect(out).toEqual({
      Encrypt: 'ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==',
      MsgSignature: '1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1',
      TimeStamp: 1713424427,
      Nonce: '415670741',
    });
  });

  it('writes the XML envelope that @wecom/crypto verifies and decrypts', () => {
    const key = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
    const crypto = new MsgCrypto('pamtest', key, 'wxb11529c136998cb6');
    const xml = buildEnvelope(crypto, '<xml><Content><![CDATA[你好]]></Content></xml>', '1409304348', 'xxxxxx', 'xml');
    expect(xml).toMatch(/^<xml><Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt><MsgSignature><!\[CDATA\[[0-9a-f]{40}\]\]><\/MsgSignature><TimeStamp>1409304348<\/TimeStamp><Nonce><!\[CDATA\[xxxxxx\]\]><\/Nonce><\/xml>$/);
    const env = parseWechatXml(xml) as Record<string, string>;
    expect(env.MsgSignature).toBe(wecomCrypto.getSignature('pamtest', '1409304348', 'xxxxxx', env.Encrypt!));
    expect(wecomCrypto.decrypt(key, env.Encrypt!)).toMatchObject({ message: '<xml><Content><![CDATA[你好]]></Content></xml>', id: 'wxb11529c136998cb6' });
  });
});

describe('JSON bodies', () => {
  it('tells JSON from XML by the first non-blank byte', () => {
    expect(detectFormat(Buffer.from('  \n{"a":1}'))).toBe('json');
    expect(detectFormat(Buffer.from('<xml/>'))).toBe('xml');
    expect(detectFormat('\t{')).toBe('json');
  });

  it('keeps a 64-bit MsgId exact instead of rounding it as a double', () => {
    const f = parseWechatJson('{"MsgType":"text","MsgId":18446744073709551615,"CreateTime":1714112445}');
    expect(f.MsgId).toBe('18446744073709551615');
    expect(f.CreateTime).toBe('1714112445');
  });

  it('refuses malformed JSON, non-objects, invalid UTF-8 and oversized bodies with a 4xx code', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as AppError).code;
      }
      return undefined;
    };
    expect(codeOf(() => parseWechatJson('{"a":'))).toBe('validation_failed');
    expect(codeOf(() => parseWechatJson('[1,2]'))).toBe('validation_failed');
    expect(codeOf(() => parseWechatJson(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])))).toBe('validation_failed');
    expect(codeOf(() => parseWechatJson(`{"a":"${'x'.repeat(70_000)}"}`))).toBe('payload_too_large');
  });

  it('drops prototype-polluting keys', () => {
    const f = parseWechatJson('{"__proto__":{"polluted":"yes"},"MsgType":"text"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(f)).toEqual(['MsgType']);
  });
});
