// Typing inbound OA pushes: every message and event kind from WECHAT-VECTORS.md §1.4, field validation, and the de-duplication key.
import { describe, expect, it } from 'vitest';
import { dedupKeyOf, parseInbound } from '../../../../src/wechat/oa/inbound.ts';
import { parseWechatXml } from '../../../../src/wechat/xml.ts';
import { AppError } from '../../../../src/app/errors.ts';

const T = 't1';
const parse = (xml: string) => parseInbound(parseWechatXml(xml), T);
const head = '<ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1348831860</CreateTime>';

function fieldErrorOf(xml: string): string | undefined {
  try {
    parse(xml);
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    return (e.extra.errors as { field: string }[])[0]?.field;
  }
  return undefined;
}

describe('messages', () => {
  it('types the official text message sample (line breaks between elements included)', () => {
    const xml = `<xml>
<ToUserName><![CDATA[toUser]]></ToUserName>
<FromUserName><![CDATA[fromUser]]></FromUserName>
<CreateTime>1348831860</CreateTime>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[this is a test]]></Content>
<MsgId>1234567890123456</MsgId>
</xml>`;
    expect(parse(xml)).toEqual({ tenantId: T, openid: 'fromUser', accountId: 'toUser', createTime: 1348831860, msgType: 'text', msgId: '1234567890123456', content: 'this is a test' });
  });

  it('keeps a MsgId above 2^53 exact', () => {
    const m = parse(`<xml>${head}<MsgType>text</MsgType><Content>x</Content><MsgId>18446744073709551615</MsgId></xml>`);
    expect(m.msgType === 'text' && m.msgId).toBe('18446744073709551615');
  });

  it('types image, voice, location and link messages', () => {
    expect(parse(`<xml>${head}<MsgType>image</MsgType><PicUrl>https://p/1.jpg</PicUrl><MediaId>m1</MediaId><MsgId>1</MsgId></xml>`)).toMatchObject({ msgType: 'image', picUrl: 'https://p/1.jpg', mediaId: 'm1' });
    expect(parse(`<xml>${head}<MsgType>voice</MsgType><MediaId>m2</MediaId><Format>amr</Format><Recognition>余额</Recognition><MsgId>2</MsgId></xml>`)).toMatchObject({ msgType: 'voice', format: 'amr', recognition: '余额' });
    expect(parse(`<xml>${head}<MsgType>location</MsgType><Location_X>30.27</Location_X><Location_Y>120.15</Location_Y><Scale>15</Scale><Label>杭州</Label><MsgId>3</MsgId></xml>`)).toMatchObject({
      msgType: 'location',
      latitude: 30.27,
      longitude: 120.15,
      scale: 15,
      label: '杭州',
    });
    expect(parse(`<xml>${head}<MsgType>link</MsgType><Title>t</Title><Description>d</Description><Url>https://u</Url><MsgId>4</MsgId></xml>`)).toMatchObject({ msgType: 'link', title: 't', url: 'https://u' });
  });

  it('passes message types it does not model as "other"', () => {
    expect(parse(`<xml>${head}<MsgType>shortvideo</MsgType><MediaId>x</MediaId><MsgId>5</MsgId></xml>`)).toMatchObject({ msgType: 'other', rawMsgType: 'shortvideo', msgId: '5' });
  });
});

describe('events', () => {
  const ev = (body: string) => parse(`<xml>${head}<MsgType>event</MsgType>${body}</xml>`);

  it('types subscribe (plain and from a parametric QR code) and unsubscribe', () => {
    expect(ev('<Event>subscribe</Event>')).toMatchObject({ msgType: 'event', event: 'subscribe' });
    expect(ev('<Event>subscribe</Event><EventKey>qrscene_123123</EventKey><Ticket>TICKET</Ticket>')).toMatchObject({ event: 'subscribe', eventKey: 'qrscene_123123', ticket: 'TICKET' });
    expect(ev('<Event>unsubscribe</Event>')).toMatchObject({ event: 'unsubscribe' });
  });

  it('types CLICK, VIEW (EventKey is the URL), SCAN, LOCATION and TEMPLATESENDJOBFINISH', () => {
    expect(ev('<Event>CLICK</Event><EventKey>BALANCE</EventKey>')).toMatchObject({ event: 'CLICK', eventKey: 'BALANCE' });
    expect(ev('<Event>VIEW</Event><EventKey>https://bank/h5</EventKey><MenuId>42</MenuId>')).toMatchObject({ event: 'VIEW', url: 'https://bank/h5', menuId: '42' });
    expect(ev('<Event>SCAN</Event><EventKey>123123</EventKey><Ticket>T</Ticket>')).toMatchObject({ event: 'SCAN', eventKey: '123123', ticket: 'T' });
    expect(ev('<Event>LOCATION</Event><Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision>')).toMatchObject({
      event: 'LOCATION',
      latitude: 23.137466,
      longitude: 113.352425,
      precision: 119.38504,
    });
    expect(ev('<Event>TEMPLATESENDJOBFINISH</Event><MsgID>200163836</MsgID><Status>failed:user block</Status>')).toMatchObject({
      event: 'TEMPLATESENDJOBFINISH',
      msgId: '200163836',
      status: 'failed:user block',
    });
  });

  it('passes unknown events as "other"', () => {
    expect(ev('<Event>debug_demo</Event>')).toMatchObject({ msgType: 'other', rawMsgType: 'event', rawEvent: 'debug_demo' });
  });
});

describe('missing and malformed fields', () => {
  it('names the field that is missing or malformed', () => {
    expect(fieldErrorOf('<xml><ToUserName>a</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>')).toBe('FromUserName');
    expect(fieldErrorOf(`<xml>${head}</xml>`)).toBe('MsgType');
    expect(fieldErrorOf(`<xml>${head}<MsgType>text</MsgType><Content>x</Content></xml>`)).toBe('MsgId');
    expect(fieldErrorOf(`<xml>${head}<MsgType>text</MsgType><MsgId>1</MsgId></xml>`)).toBe('Content');
    expect(fieldErrorOf(`<xml>${head}<MsgType>text</MsgType><Content>x</Content><MsgId>12ab</MsgId></xml>`)).toBe('MsgId');
    expect(fieldErrorOf(`<xml>${head}<MsgType>event</MsgType><Event>CLICK</Event></xml>`)).toBe('EventKey');
    expect(fieldErrorOf('<xml><ToUserName>a</ToUserName><FromUserName>o&lt;script</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>')).toBe('FromUserName');
    expect(fieldErrorOf('<xml><ToUserName>a</ToUserName><FromUserName>o</FromUserName><CreateTime>-1</CreateTime><MsgType>text</MsgType></xml>')).toBe('CreateTime');
    expect(fieldErrorOf(`<xml>${head}<MsgType>text</MsgType><Content>${'x'.repeat(4097)}</Content><MsgId>1</MsgId></xml>`)).toBe('Content');
  });
});

describe('de-duplication key', () => {
  const key = (body: string, from = 'fromUser', time = '1348831860') => {
    const xml = parseWechatXml(`<xml><ToUserName>gh</ToUserName><FromUserName>${from}</FromUserName><CreateTime>${time}</CreateTime>${body}</xml>`);
    return dedupKeyOf(parseInbound(xml, T), xml);
  };

  it('is the MsgId for messages, whatever else differs', () => {
    expect(key('<MsgType>text</MsgType><Content>a</Content><MsgId>99</MsgId>')).toBe('m:99');
    expect(key('<MsgType>text</MsgType><Content>b</Content><MsgId>99</MsgId>', 'other', '1')).toBe('m:99');
  });

  it('is FromUserName + CreateTime for events, told apart by Event and EventKey', () => {
    const click = key('<MsgType>event</MsgType><Event>CLICK</Event><EventKey>A</EventKey>');
    expect(click).toMatch(/^e:fromUser:1348831860:CLICK:[0-9a-f]{16}$/);
    expect(key('<MsgType>event</MsgType><Event>CLICK</Event><EventKey>A</EventKey>')).toBe(click);
    expect(key('<MsgType>event</MsgType><Event>CLICK</Event><EventKey>B</EventKey>')).not.toBe(click);
    expect(key('<MsgType>event</MsgType><Event>CLICK</Event><EventKey>A</EventKey>', 'fromUser', '1348831861')).not.toBe(click);
    expect(key('<MsgType>event</MsgType><Event>subscribe</Event>')).toBe('e:fromUser:1348831860:subscribe:');
  });
});
