// The Pay v3 client against the sandbox platform over real HTTP: order, wx.requestPayment parameters, cashier payment and its notification, query, close, refund and its notification.
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Formatter, Rsa } from 'wechatpay-axios-plugin';
import { sandboxPayRoutes } from '../../../../src/sandbox/pay/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import {
  closeOrder,
  createJsapiOrder,
  createRefund,
  payNotifications,
  paymentParams,
  PayApiError,
  queryOrder,
  queryRefund,
  refreshPlatformCertificates,
  type RefundNotification,
  type TransactionNotification,
} from '../../../../src/wechat/pay/index.ts';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { payerOpenid, payTenant, type PayTestTenant } from './helpers.ts';

const clock = new ManualClock('2026-01-05T02:00:00Z');
let platform: Platform;
let t: PayTestTenant;
const seen: { transactions: TransactionNotification[]; refunds: RefundNotification[] } = { transactions: [], refunds: [] };

beforeAll(async () => {
  platform = await startPlatform({
    clock,
    sandboxModules: [sandboxPayRoutes],
    serverModules: [
      payNotifications({
        onTransaction: async (_c, _tx, n) => void seen.transactions.push(n),
        onRefund: async (_c, _tx, n) => void seen.refunds.push(n),
      }),
    ],
  });
  t = await payTenant(server().ctx);
});
afterAll(async () => platform.close());
beforeEach(() => {
  seen.transactions.length = 0;
  seen.refunds.length = 0;
});

const server = () => platform.servers[0]!;
const outNo = (p: string) => `${p}${randomToken(12)}`;

async function sandboxApi(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${platform.sandbox.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function order(amountFen = 1000, over: Partial<Parameters<typeof createJsapiOrder>[2]> = {}) {
  const outTradeNo = outNo('T');
  const openid = payerOpenid();
  const { prepayId } = await createJsapiOrder(server().ctx, t.tenantId, { appId: t.miniAppId, description: '市民卡充值', outTradeNo, amountFen, payerOpenid: openid, ...over });
  return { outTradeNo, prepayId, openid };
}

describe('ordering and paying', () => {
  it('places a mini-program order that the platform holds as NOTPAY, with wx.requestPayment parameters the library verifies', async () => {
    const o = await order(1234, { attach: 'card:CC01' });
    expect(o.prepayId).toMatch(/^wx\d{14}/);
    const held = await sandboxApi('GET', `/sandbox/api/pay/orders/${o.prepayId}`);
    expect(held).toEqual({
      status: 200,
      json: { prepayId: o.prepayId, appid: t.miniAppId, mchid: t.pay.mchId, outTradeNo: o.outTradeNo, description: '市民卡充值', amount: { total: 1234, currency: 'CNY' }, payer: { openid: o.openid }, state: 'NOTPAY' },
    });
    const p = await paymentParams(server().ctx, t.tenantId, { appId: t.miniAppId, prepayId: o.prepayId });
    expect(p).toMatchObject({ appId: t.miniAppId, package: `prepay_id=${o.prepayId}`, signType: 'RSA', timeStamp: String(Math.floor(clock.now().getTime() / 1000)) });
    const merchantPublic = createPublicKey(t.pay.merchantPrivateKeyPem);
    expect(Rsa.verify(Formatter.joinedByLineFeed(p.appId, p.timeStamp, p.nonceStr, p.package), p.paySign, merchantPublic)).toBe(true);
    const q = await queryOrder(server().ctx, t.tenantId, o.outTradeNo);
    expect(q).toMatchObject({ outTradeNo: o.outTradeNo, tradeState: 'NOTPAY', attach: 'card:CC01', amount: { totalFen: 1234 } });
  });

  it('paying at the cashier sends the signed, encrypted notification; the server handles it once; the query shows SUCCESS', async () => {
    const o = await order(5000);
    const paid = await sandboxApi('POST', `/sandbox/api/pay/orders/${o.prepayId}/pay`, {});
    expect(paid.status).toBe(200);
    expect(paid.json).toMatchObject({ prepayId: o.prepayId, state: 'SUCCESS', notification: { delivered: true, status: 204 } });
    expect(seen.transactions).toHaveLength(1);
    expect(seen.transactions[0]!.transaction).toMatchObject({ outTradeNo: o.outTradeNo, transactionId: paid.json.transactionId, tradeState: 'SUCCESS', appId: t.miniAppId, amount: { totalFen: 5000 }, payerOpenid: o.openid });
    const q = await queryOrder(server().ctx, t.tenantId, o.outTradeNo);
    expect(q).toMatchObject({ tradeState: 'SUCCESS', transactionId: paid.json.transactionId, amount: { totalFen: 5000, payerTotalFen: 5000 } });
    // Paying twice is refused by the cashier and sends nothing.
    expect((await sandboxApi('POST', `/sandbox/api/pay/orders/${o.prepayId}/pay`, {})).status).toBe(409);
    expect(seen.transactions).toHaveLength(1);
  });

  it('repeating an order with the same out_trade_no and parameters returns the same prepay_id; other parameters are refused', async () => {
    const o = await order(700);
    const again = await createJsapiOrder(server().ctx, t.tenantId, { appId: t.miniAppId, description: '市民卡充值', outTradeNo: o.outTradeNo, amountFen: 700, payerOpenid: o.openid });
    expect(again.prepayId).toBe(o.prepayId);
    await expect(createJsapiOrder(server().ctx, t.tenantId, { appId: t.miniAppId, description: '市民卡充值', outTradeNo: o.outTradeNo, amountFen: 701, payerOpenid: o.openid })).rejects.toMatchObject({
      name: 'PayApiError',
      kind: 'platform',
      status: 400,
      code: 'OUT_TRADE_NO_USED',
    });
  });

  it('refuses bad input before calling the platform', async () => {
    await expect(order(0)).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(order(100, { appId: 'wx0000000000000000' })).rejects.toMatchObject({ code: 'validation_failed' });
    await expect(order(100, { notifyUrl: 'https://x.example/n?q=1' })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('query and close', () => {
  it('an unknown order is ORDER_NOT_EXIST (404)', async () => {
    const err = await queryOrder(server().ctx, t.tenantId, outNo('X')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayApiError);
    expect(err).toMatchObject({ kind: 'platform', status: 404, code: 'ORDER_NOT_EXIST', retryable: false });
  });

  it('an unpaid order closes (204, signed over an empty body) and reads CLOSED; the cashier then refuses it; a paid order cannot be closed', async () => {
    const o = await order(300);
    await closeOrder(server().ctx, t.tenantId, o.outTradeNo);
    expect((await queryOrder(server().ctx, t.tenantId, o.outTradeNo)).tradeState).toBe('CLOSED');
    expect((await sandboxApi('POST', `/sandbox/api/pay/orders/${o.prepayId}/pay`, {})).status).toBe(409);
    const p = await order(300);
    await sandboxApi('POST', `/sandbox/api/pay/orders/${p.prepayId}/pay`, {});
    await expect(closeOrder(server().ctx, t.tenantId, p.outTradeNo)).rejects.toMatchObject({ status: 400, code: 'ORDERPAID' });
  });

  it('an order past its time_expire reads CLOSED and cannot be paid', async () => {
    const o = await order(300, { timeExpire: new Date(clock.now().getTime() + 60_000) });
    clock.advance(61_000);
    try {
      expect((await queryOrder(server().ctx, t.tenantId, o.outTradeNo)).tradeState).toBe('CLOSED');
      expect((await sandboxApi('POST', `/sandbox/api/pay/orders/${o.prepayId}/pay`, {})).status).toBe(409);
    } finally {
      clock.advance(-61_000);
    }
  });
});

describe('refunds', () => {
  it('a refund answers PROCESSING, settles by job, notifies REFUND.SUCCESS once; the query shows SUCCESS and the order REFUND', async () => {
    const o = await order(2000);
    await sandboxApi('POST', `/sandbox/api/pay/orders/${o.prepayId}/pay`, {});
    const outRefundNo = outNo('R');
    const r = await createRefund(server().ctx, t.tenantId, { outTradeNo: o.outTradeNo, outRefundNo, refundFen: 500, totalFen: 2000, reason: '用户申请' });
    expect(r).toMatchObject({ outRefundNo, outTradeNo: o.outTradeNo, status: 'PROCESSING', amount: { totalFen: 2000, refundFen: 500 } });
    // The same request again is the same refund (retry-safe).
    expect((await createRefund(server().ctx, t.tenantId, { outTradeNo: o.outTradeNo, outRefundNo, refundFen: 500, totalFen: 2000 })).refundId).toBe(r.refundId);
    expect(await platform.sandbox.ctx.jobs.runDue()).toBeGreaterThanOrEqual(1);
    expect(seen.refunds).toHaveLength(1);
    expect(seen.refunds[0]!).toMatchObject({ eventType: 'REFUND.SUCCESS', refund: { outRefundNo, refundId: r.refundId, status: 'SUCCESS', amount: { refundFen: 500, totalFen: 2000 } } });
    expect((await queryRefund(server().ctx, t.tenantId, outRefundNo)).status).toBe('SUCCESS');
    expect((await queryOrder(server().ctx, t.tenantId, o.outTradeNo)).tradeState).toBe('REFUND');
  });

  it('refunds beyond the paid amount, of an unpaid order, or with another total are refused by the platform', async () => {
    const o = await order(1000);
    await expect(createRefund(server().ctx, t.tenantId, { outTradeNo: o.outTradeNo, outRefundNo: outNo('R'), refundFen: 100, totalFen: 1000 })).rejects.toMatchObject({ status: 404, code: 'RESOURCE_NOT_EXISTS' });
    await sandboxApi('POST', `/sandbox/api/pay/orders/${o.prepayId}/pay`, {});
    await createRefund(server().ctx, t.tenantId, { outTradeNo: o.outTradeNo, outRefundNo: outNo('R'), refundFen: 600, totalFen: 1000 });
    await expect(createRefund(server().ctx, t.tenantId, { outTradeNo: o.outTradeNo, outRefundNo: outNo('R'), refundFen: 401, totalFen: 1000 })).rejects.toMatchObject({ status: 400, code: 'INVALID_REQUEST' });
    await expect(createRefund(server().ctx, t.tenantId, { outTradeNo: o.outTradeNo, outRefundNo: outNo('R'), refundFen: 100, totalFen: 999 })).rejects.toMatchObject({ status: 400, code: 'PARAM_ERROR' });
    await expect(queryRefund(server().ctx, t.tenantId, outNo('R'))).rejects.toMatchObject({ status: 404, code: 'RESOURCE_NOT_EXISTS' });
    await platform.sandbox.ctx.jobs.runDue();
  });
});

describe('platform certificates', () => {
  it('a merchant in public-key mode has none to download (404 RESOURCE_NOT_EXISTS is an empty list)', async () => {
    expect(await refreshPlatformCertificates(server().ctx, t.tenantId)).toEqual([]);
  });
});
