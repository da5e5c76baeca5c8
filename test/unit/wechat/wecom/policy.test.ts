// WeCom rules as pure functions: state tokens, field limits, the timestamp window, the de-duplication key, event typing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/app/errors.ts';
import { parseWechatXml } from '../../../../src/wechat/xml.ts';
import { parseCallback } from '../../../../src/wechat/wecom/events.ts';
import {
  CALLBACK_TIMESTAMP_WINDOW_S,
  contactWayProblems,
  dedupeKey,
  remarkProblems,
  stateProblems,
  timestampWithinWindow,
  welcomeProblems,
} from '../../../../src/wechat/wecom/policy.ts';
import { GENERATED_STATE_CHARS, newContactWayState } from '../../../../src/wechat/wecom/state.ts';
import { check, propertySeed } from '../../shared/seed.ts';

const seed = propertySeed('wecom-policy');

const ADD_EVENT =
  '<xml><ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mAAAA]]></ExternalUserID><State><![CDATA[teststate]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : 'not an AppError';
  }
  return undefined;
}

describe('contact-way state', () => {
  it('accepts an opaque token of up to 30 letters, digits, "_" and "-"', () => {
    expect(stateProblems('teststate')).toEqual([]);
    expect(stateProblems('a'.repeat(30))).toEqual([]);
    expect(stateProblems('bill_7f3k-9x2')).toEqual([]);
  });

  it('refuses a state over 30 characters, an empty one, and free text', () => {
    expect(stateProblems('a'.repeat(31))).toHaveLength(1);
    expect(stateProblems('')).toHaveLength(1);
    expect(stateProblems('张三的账单')).toHaveLength(1);
    expect(stateProblems('a b')).toHaveLength(1);
  });

  it('refuses a state with six digits in a row, which could be part of a phone, card or ID number', () => {
    expect(stateProblems('p13800138000')).toHaveLength(1);
    expect(stateProblems('card6222021234')).toHaveLength(1);
    expect(stateProblems('order12345x')).toEqual([]);
  });

  it('generates states that always pass its own check and never repeat in practice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const s = newContactWayState();
      expect(s).toHaveLength(GENERATED_STATE_CHARS);
      expect(stateProblems(s)).toEqual([]);
      seen.add(s);
    }
    expect(seen.size).toBe(1_000);
  });
});

describe('field limits of the customer-contact APIs', () => {
  it('checks the contact way member, state and memo', () => {
    expect(contactWayProblems({ agentUserId: 'ZhangMin', state: 'abc' })).toEqual([]);
    expect(contactWayProblems({ agentUserId: 'no spaces', state: 'abc', remark: '渠'.repeat(31) }).map((e) => e.field)).toEqual(['agentUserId', 'remark']);
  });

  it('counts remark and description in characters (20 and 150) and wants at least one of them', () => {
    const base = { userId: 'ZhangMin', externalUserId: 'wmAbc' };
    expect(remarkProblems({ ...base, remark: '订'.repeat(20) })).toEqual([]);
    expect(remarkProblems({ ...base, remark: '订'.repeat(21) }).map((e) => e.field)).toEqual(['remark']);
    expect(remarkProblems({ ...base, description: 'd'.repeat(151) }).map((e) => e.field)).toEqual(['description']);
    expect(remarkProblems(base).map((e) => e.field)).toEqual(['remark']);
  });

  it('limits the welcome text to 4000 bytes and wants a code', () => {
    expect(welcomeProblems({ welcomeCode: 'abc', text: '您好' })).toEqual([]);
    expect(welcomeProblems({ welcomeCode: 'abc', text: '好'.repeat(1334) }).map((e) => e.field)).toEqual(['text']);
    expect(welcomeProblems({ welcomeCode: '', text: '' }).map((e) => e.field)).toEqual(['welcomeCode', 'text']);
  });
});

describe('callback timestamp window', () => {
  const now = new Date('2026-01-05T02:00:00Z');
  const unix = now.getTime() / 1000;

  it(`accepts timestamps up to ${CALLBACK_TIMESTAMP_WINDOW_S} s either side of now and refuses anything further or malformed`, () => {
    expect(timestampWithinWindow(String(unix), now)).toBe(true);
    expect(timestampWithinWindow(String(unix - CALLBACK_TIMESTAMP_WINDOW_S), now)).toBe(true);
    expect(timestampWithinWindow(String(unix + CALLBACK_TIMESTAMP_WINDOW_S), now)).toBe(true);
    expect(timestampWithinWindow(String(unix - CALLBACK_TIMESTAMP_WINDOW_S - 1), now)).toBe(false);
    expect(timestampWithinWindow(String(unix + CALLBACK_TIMESTAMP_WINDOW_S + 1), now)).toBe(false);
    expect(timestampWithinWindow('-1', now)).toBe(false);
    expect(timestampWithinWindow('1e9', now)).toBe(false);
  });
});

describe('de-duplication key', () => {
  it('uses MsgId for messages', () => {
    expect(dedupeKey({ MsgType: 'text', MsgId: '4561255354251345929', Content: 'hello' })).toBe('msgid:4561255354251345929');
  });

  it('keys an event by all its fields: the same fields give the same key whatever their order', () => {
    check(
      seed,
      fc.property(fc.dictionary(fc.stringMatching(/^[A-Z][A-Za-z]{0,12}$/), fc.string({ maxLength: 40 }), { minKeys: 1, maxKeys: 10 }), (fields) => {
        const reversed = Object.fromEntries(Object.entries(fields).reverse());
        delete (fields as Record<string, string>).MsgId;
        delete (reversed as Record<string, string>).MsgId;
        expect(dedupeKey(reversed)).toBe(dedupeKey(fields));
        expect(dedupeKey(fields)).toMatch(/^sha256:[0-9a-f]{64}$/);
      }),
      200,
    );
  });

  it('tells apart two customers added to the same member in the same second', () => {
    const a = { FromUserName: 'sys', CreateTime: '1403610513', Event: 'change_external_contact', ExternalUserID: 'wmA' };
    expect(dedupeKey(a)).not.toBe(dedupeKey({ ...a, ExternalUserID: 'wmB' }));
  });

  it('cannot be confused by moving text between a field name and its value', () => {
    expect(dedupeKey({ A: 'B=C' })).not.toBe(dedupeKey({ 'A=B': 'C' } as Record<string, string>));
  });
});

describe('typing the decrypted callback', () => {
  it('reads the official add_external_contact sample into a typed event', () => {
    const parsed = parseCallback('t1', 'ww0123456789abcdef', parseWechatXml(ADD_EVENT));
    expect(parsed.kind).toBe('add_external_contact');
    expect(parsed.event).toEqual({
      tenantId: 't1',
      corpId: 'ww0123456789abcdef',
      userId: 'zhangsan',
      externalUserId: 'woAJ2GCAAAXtWyujaWJHDDGi0mAAAA',
      state: 'teststate',
      welcomeCode: 'WELCOMECODE',
      createTime: new Date(1403610513 * 1000),
    });
  });

  it('passes other events and messages through with their fields', () => {
    const del = ADD_EVENT.replace('add_external_contact', 'del_external_contact');
    const parsed = parseCallback('t1', 'c', parseWechatXml(del));
    expect(parsed.kind).toBe('other');
    expect(parsed.event).toMatchObject({ msgType: 'event', event: 'change_external_contact', changeType: 'del_external_contact' });
  });

  it('refuses an event without MsgType, CreateTime, UserID or ExternalUserID, naming the field', () => {
    for (const field of ['MsgType', 'CreateTime', 'UserID', 'ExternalUserID']) {
      const xml = ADD_EVENT.replace(new RegExp(`<${field}>.*?</${field}>`), '');
      let err: unknown;
      try {
        parseCallback('t1', 'c', parseWechatXml(xml));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).extra.errors).toEqual([{ field, message: 'is required' }]);
    }
  });

  it('refuses a malformed UserID', () => {
    expect(codeOf(() => parseCallback('t1', 'c', parseWechatXml(ADD_EVENT.replace('zhangsan', 'zhang san'))))).toBe('validation_failed');
  });
});
