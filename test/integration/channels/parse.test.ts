// The channel command parsers and formatters (pure: no database, no server).
import { describe, expect, it } from 'vitest';
import { parseChatText, parseSmsText, shanghaiShort, signedMoney, alertData } from '../../../src/channels/index.ts';

describe('OA chat commands', () => {
  it.each([
    ['余额', { kind: 'balance' }],
    [' 余额 ', { kind: 'balance' }],
    ['余额 1234', { kind: 'balance', last4: '1234' }],
    ['余额1234', { kind: 'balance', last4: '1234' }],
    ['余额#1234', { kind: 'balance', last4: '1234' }],
    ['余额　１２３４', { kind: 'balance', last4: '1234' }],
    ['YE', { kind: 'balance' }],
    ['明细', { kind: 'statement' }],
    ['明细 0042', { kind: 'statement', last4: '0042' }],
    ['帮助', { kind: 'help' }],
    ['？', { kind: 'help' }],
    ['绑卡', { kind: 'bind' }],
    ['退订提醒', { kind: 'alerts', on: false }],
    ['开启提醒', { kind: 'alerts', on: true }],
    ['余额 12345', { kind: 'unknown' }],
    ['余额 12', { kind: 'unknown' }],
    ['我的余额是多少', { kind: 'unknown' }],
  ] as const)('%s', (text, want) => {
    expect(parseChatText(text)).toEqual(want);
  });
});

describe('SMS commands', () => {
  it.each([
    ['YE', { kind: 'balance' }],
    ['ye', { kind: 'balance' }],
    ['YE#1234', { kind: 'balance', last4: '1234' }],
    ['ＹＥ＃１２３４', { kind: 'balance', last4: '1234' }],
    ['YE 1234', { kind: 'balance', last4: '1234' }],
    ['MX', { kind: 'statement' }],
    ['mx#9876', { kind: 'statement', last4: '9876' }],
    ['BZ', { kind: 'help' }],
    ['YE#12', { kind: 'help' }],
    ['hello', { kind: 'help' }],
  ] as const)('%s', (text, want) => {
    expect(parseSmsText(text)).toEqual(want);
  });
});

describe('formatting', () => {
  it('shows Shanghai wall-clock time and signed yuan', () => {
    expect(shanghaiShort(new Date('2026-03-18T16:05:00Z'))).toBe('03-19 00:05');
    expect(signedMoney(123_456_78n, 'CNY')).toBe('+¥123,456.78');
    expect(signedMoney(-5n, 'CNY')).toBe('-¥0.05');
    expect(signedMoney(1_050n, 'USD')).toBe('+10.50 USD');
  });

  it('never puts a clear card, ID or phone number in an alert, even from the memo', () => {
    const data = alertData({ amountFen: 100_00n, currency: 'CNY', bookedAt: new Date('2026-03-18T06:30:00Z'), description: '转自 6228480402564890018 手机13812345678', counterparty: '张三' }, '622848*********0018', true);
    const text = JSON.stringify(data);
    expect(text).not.toContain('6228480402564890018');
    expect(text).not.toContain('13812345678');
    expect(data.keyword1!.value).toBe('尾号0018');
    expect(data.keyword2!.value).toBe('2026-03-18 14:30');
    expect(data.keyword3!.value).toBe('+¥100.00');
  });
});
