// Pure Pay rules: the 5-minute window, order and refund field limits, notify_url, and the mapping of transaction and refund objects.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/app/errors.ts';
import { jsapiOrderProblems, notifyUrlProblem, refundProblems, timestampWithinWindow } from '../../../../src/wechat/pay/policy.ts';
import { parseRefund, parseTransaction } from '../../../../src/wechat/pay/resources.ts';

const fields = (errs: { field: string }[]) => errs.map((e) => e.field).sort();

describe('the replay window', () => {
  const now = new Date('2026-01-05T02:00:00Z');
  const s = Math.floor(now.getTime() / 1000);
  it('accepts up to 300 s either way, refuses beyond and anything not a decimal timestamp', () => {
    expect(timestampWithinWindow(String(s + 300), now)).toBe(true);
    expect(timestampWithinWindow(String(s - 300), now)).toBe(true);
    expect(timestampWithinWindow(String(s + 301), now)).toBe(false);
    expect(timestampWithinWindow(String(s - 301), now)).toBe(false);
    for (const bad of [undefined, '', '1e9', '-1', ` ${s}`, `${s}.0`, '9'.repeat(13)]) expect(timestampWithinWindow(bad, now)).toBe(false);
  });
});

describe('order and refund input', () => {
  const order = { appId: 'wx0123456789abcdef', description: '市民卡充值', outTradeNo: 'T20260105ABC', amountFen: 100, payerOpenid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', notifyUrl: 'https://bank.example/wechat/pay/t1/notify' };

  it('accepts a well-formed order and names every bad field of a bad one', () => {
    expect(jsapiOrderProblems(order)).toEqual([]);
    expect(fields(jsapiOrderProblems({ ...order, appId: 'x', description: '', outTradeNo: 'short', amountFen: 0.5, payerOpenid: '', notifyUrl: 'ftp://x', attach: 'a'.repeat(129) }))).toEqual(
      ['amountFen', 'appId', 'attach', 'description', 'notifyUrl', 'outTradeNo', 'payerOpenid'].sort(),
    );
    expect(fields(jsapiOrderProblems({ ...order, amountFen: 0 }))).toEqual(['amountFen']);
    expect(fields(jsapiOrderProblems({ ...order, amountFen: 2 ** 53 }))).toEqual(['amountFen']);
    expect(fields(jsapiOrderProblems({ ...order, description: '字'.repeat(128) }))).toEqual(['description']);
  });

  it('refuses a notify_url with a query or fragment, or too long', () => {
    expect(notifyUrlProblem('https://a.example/n')).toBeUndefined();
    expect(notifyUrlProblem('https://a.example/n?x=1')).toBeDefined();
    expect(notifyUrlProblem('https://a.example/n#f')).toBeDefined();
    expect(notifyUrlProblem(`https://a.example/${'n'.repeat(250)}`)).toBeDefined();
    expect(notifyUrlProblem('/relative')).toBeDefined();
  });

  it('refuses a refund above the total or of zero', () => {
    const r = { outTradeNo: 'T20260105ABC', outRefundNo: 'R20260105ABC', refundFen: 50, totalFen: 100 };
    expect(refundProblems(r)).toEqual([]);
    expect(fields(refundProblems({ ...r, refundFen: 101 }))).toEqual(['refundFen']);
    expect(fields(refundProblems({ ...r, refundFen: 0 }))).toEqual(['refundFen']);
    expect(fields(refundProblems({ ...r, outRefundNo: 'x', reason: 'r'.repeat(81) }))).toEqual(['outRefundNo', 'reason']);
  });
});

describe('transaction and refund objects', () => {
  const tx = {
    appid: 'wxd678efh567hg6787',
    mchid: '1230000109',
    out_trade_no: '1217752501201407033233368018',
    transaction_id: '1217752501201407033233368018',
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'CMC',
    attach: '自定义数据',
    success_time: '2018-06-08T10:34:56+08:00',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' },
  };

  it('maps the documented transaction to camel case with integer fen', () => {
    expect(parseTransaction(tx)).toEqual({
      appId: 'wxd678efh567hg6787',
      mchId: '1230000109',
      outTradeNo: '1217752501201407033233368018',
      transactionId: '1217752501201407033233368018',
      tradeType: 'JSAPI',
      tradeState: 'SUCCESS',
      tradeStateDesc: '支付成功',
      bankType: 'CMC',
      attach: '自定义数据',
      successTime: '2018-06-08T10:34:56+08:00',
      payerOpenid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      amount: { totalFen: 100, payerTotalFen: 100, currency: 'CNY', payerCurrency: 'CNY' },
    });
  });

  it('refuses a fractional or string amount, an unknown state, a missing out_trade_no, naming each field', () => {
    try {
      parseTransaction({ ...tx, out_trade_no: undefined, trade_state: 'PAID', amount: { total: '100' } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect(fields((e as AppError).extra.errors as { field: string }[])).toEqual(['resource.amount.total', 'resource.out_trade_no', 'resource.trade_state']);
    }
    expect(() => parseTransaction({ ...tx, amount: { total: 1.5 } })).toThrow(AppError);
    expect(() => parseTransaction([])).toThrow(AppError);
  });

  it('reads refund_status from notifications and status from API answers', () => {
    const base = { mchid: '1230000109', out_trade_no: 'T1234567', transaction_id: '42000', out_refund_no: 'R1234567', refund_id: '50000', amount: { total: 100, refund: 30, payer_total: 100, payer_refund: 30 } };
    expect(parseRefund({ ...base, refund_status: 'SUCCESS' }).status).toBe('SUCCESS');
    expect(parseRefund({ ...base, status: 'PROCESSING' }).status).toBe('PROCESSING');
    expect(parseRefund({ ...base, status: 'PROCESSING' }).amount).toEqual({ totalFen: 100, refundFen: 30, payerTotalFen: 100, payerRefundFen: 30, currency: undefined });
    expect(() => parseRefund({ ...base, status: 'DONE' })).toThrow(AppError);
  });
});
