// Trade-bill parsing: the published fixture (WECHAT-VECTORS.md §4.10), agreement with wechatpay-axios-plugin's castCsvBill, exact fen, malformed files refused.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Formatter } from 'wechatpay-axios-plugin';
import { AppError } from '../../../../src/app/errors.ts';
import { parseTradeBill } from '../../../../src/wechat/pay/bill.ts';
import { billYuanToFen, fenToBillYuan } from '../../../../src/wechat/pay/policy.ts';
import { check, propertySeed } from '../../shared/seed.ts';

const seed = propertySeed('pay-bill');
/**
 * wechatpay-apiv3/wechatpay-php `tests/fixtures/bill.ALL.csv` (commit 1c6c72c4…; the same file as
 * TheNorthMemory/wechatpay-axios-plugin's), with its UTF-8 BOM and CRLF line ends.
 */
const FIXTURE = readFileSync(path.join(import.meta.dirname, 'fixtures/bill.ALL.csv'));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : 'not an AppError';
  }
  return undefined;
}

describe('the published ALL bill', () => {
  const bill = parseTradeBill(FIXTURE);

  it('is a BOM, CRLF file of 45 rows with a summary (the fixture as published)', () => {
    expect([...FIXTURE.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(FIXTURE.subarray(-2).toString()).toBe('\r\n');
    expect(bill.headers).toHaveLength(27);
    expect(bill.rows).toHaveLength(45);
    expect(bill.summary.tradeCount).toBe(45);
  });

  it('reads the first row as the vector shows it, with amounts in exact fen', () => {
    const r = bill.rows[0]!;
    expect(r.tradeTime).toBe('2019-02-19 05:01:46');
    expect(r.appId).toBe('wxab8acd895ab1638a');
    expect(r.mchId).toBe('1921000401');
    expect(r.subMchId).toBe('0');
    expect(r.transactionId).toBe('4200000263201902167700134212');
    expect(r.outTradeNo).toBe('autotest_20190216081946_82335');
    expect(r.tradeState).toBe('REFUND');
    expect(r.refundFen).toBe(1n);
    expect(r.requestedRefundFen).toBe(1n);
    expect(r.settlementTotalFen).toBe(0n);
    expect(r.feeFen).toBe(0n);
    expect(r.rate).toBe('39.00%');
    expect(r.attach).toBe('');
    expect(r.rateRemark).toBe('');
    expect(r.body).toBe('系统拨测-cheeryin-test_micropay_succ');
  });

  it('agrees field for field with castCsvBill on every row and the summary', () => {
    const theirs = Formatter.castCsvBill(FIXTURE) as { rows: Record<string, string>[]; summary: Record<string, string> };
    expect(bill.rows.map((r) => r.fields)).toEqual(theirs.rows);
    expect(bill.summary.fields).toEqual(theirs.summary);
  });

  it('adds up: the rows sum to the summary in fen, with no float anywhere', () => {
    const sum = (k: 'settlementTotalFen' | 'refundFen' | 'feeFen' | 'totalFen' | 'requestedRefundFen') => bill.rows.reduce((s, r) => s + (r[k] ?? 0n), 0n);
    expect(bill.summary.settlementTotalFen).toBe(47n);
    expect(sum('settlementTotalFen')).toBe(47n);
    expect(bill.summary.refundFen).toBe(14n);
    expect(sum('refundFen')).toBe(14n);
    expect(bill.summary.feeFen).toBe(8n);
    expect(sum('feeFen')).toBe(8n);
    expect(sum('totalFen')).toBe(bill.summary.totalFen);
    expect(sum('requestedRefundFen')).toBe(bill.summary.requestedRefundFen);
    expect(bill.summary.couponRefundFen).toBe(0n);
  });

  it('reads the same file without BOM or with LF line ends', () => {
    const lf = Buffer.from(FIXTURE.toString('utf8').replaceAll('\r\n', '\n'));
    expect(parseTradeBill(lf).rows).toEqual(bill.rows);
    expect(parseTradeBill(FIXTURE.subarray(3)).summary).toEqual(bill.summary);
  });
});

describe('malformed bills are refused with validation_failed', () => {
  const text = FIXTURE.toString('utf8');
  const lines = text.split('\r\n');

  it('a row with a missing field, no summary, a wrong count, a sub-fen amount, invalid UTF-8, a missing backtick', () => {
    const broken = (f: (l: string[]) => string[]) => Buffer.from(f([...lines]).join('\r\n'));
    expect(codeOf(() => parseTradeBill(broken((l) => [l[0]!, l[1]!.replace(/,`[^,]*$/, ''), ...l.slice(2)])))).toBe('validation_failed');
    expect(codeOf(() => parseTradeBill(broken((l) => l.slice(0, 46))))).toBe('validation_failed');
    expect(codeOf(() => parseTradeBill(broken((l) => [l[0]!, ...l.slice(2)])))).toBe('validation_failed');
    expect(codeOf(() => parseTradeBill(broken((l) => [l[0]!, l[1]!.replace('`0.00000,', '`0.00001,'), ...l.slice(2)])))).toBe('validation_failed');
    expect(codeOf(() => parseTradeBill(broken((l) => [l[0]!, l[1]!.slice(1), ...l.slice(2)])))).toBe('validation_failed');
    expect(codeOf(() => parseTradeBill(Buffer.concat([FIXTURE.subarray(0, 100), Buffer.from([0xff, 0xfe]), FIXTURE.subarray(100)])))).toBe('validation_failed');
    expect(codeOf(() => parseTradeBill(Buffer.from('')))).toBe('validation_failed');
  });
});

describe('yuan text to exact fen', () => {
  it('reads the forms bills use', () => {
    expect(billYuanToFen('0.01')).toBe(1n);
    expect(billYuanToFen('0.01000')).toBe(1n);
    expect(billYuanToFen('0.0')).toBe(0n);
    expect(billYuanToFen('45.0')).toBe(4500n);
    expect(billYuanToFen('-0.01000')).toBe(-1n);
    expect(billYuanToFen('1234567.89')).toBe(123456789n);
  });

  it('refuses sub-fen digits, exponents and junk rather than rounding', () => {
    for (const bad of ['0.001', '0.00500', '1e3', '', '¥1.00', '1,000.00', '.5', 'abc']) expect(codeOf(() => billYuanToFen(bad))).toBe('validation_failed');
  });

  it('round-trips every fen amount through the bill forms (2 and 5 decimals)', () => {
    check(
      seed,
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), (fen) => {
        expect(billYuanToFen(fenToBillYuan(fen))).toBe(fen);
        expect(billYuanToFen(fenToBillYuan(fen, 5))).toBe(fen);
      }),
    );
  });
});
