// Trade bills end to end: the sandbox writes the day's payments and refunds as the platform does; the client downloads (plain and gzip), checks SHA1 and parses to exact fen, agreeing with castCsvBill.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Formatter } from 'wechatpay-axios-plugin';
import { sandboxPayRoutes } from '../../../../src/sandbox/pay/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { createJsapiOrder, createRefund, downloadTradeBill, payNotifications } from '../../../../src/wechat/pay/index.ts';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { payerOpenid, payTenant, type PayTestTenant } from './helpers.ts';

// 10:00 in Beijing on 2026-01-05.
const clock = new ManualClock('2026-01-05T02:00:00Z');
let platform: Platform;
let t: PayTestTenant;
const paid: { outTradeNo: string; amountFen: number; transactionId: string }[] = [];
let outRefundNo = '';

beforeAll(async () => {
  platform = await startPlatform({ clock, sandboxModules: [sandboxPayRoutes], serverModules: [payNotifications()] });
  const ctx = platform.servers[0]!.ctx;
  t = await payTenant(ctx);
  for (const amountFen of [100, 2345, 99_999]) {
    const outTradeNo = `T${randomToken(12)}`;
    const { prepayId } = await createJsapiOrder(ctx, t.tenantId, { appId: t.oaAppId, description: `充值${amountFen}`, outTradeNo, amountFen, payerOpenid: payerOpenid(), attach: 'a,b' });
    const res = await fetch(`${platform.sandbox.url}/sandbox/api/pay/orders/${prepayId}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    paid.push({ outTradeNo, amountFen, transactionId: ((await res.json()) as { transactionId: string }).transactionId });
    clock.advance(60_000);
  }
  // An unpaid order is not in any bill.
  await createJsapiOrder(ctx, t.tenantId, { appId: t.oaAppId, description: '未支付', outTradeNo: `T${randomToken(12)}`, amountFen: 777, payerOpenid: payerOpenid() });
  outRefundNo = `R${randomToken(12)}`;
  await createRefund(ctx, t.tenantId, { outTradeNo: paid[1]!.outTradeNo, outRefundNo, refundFen: 345, totalFen: 2345 });
  await platform.sandbox.ctx.jobs.runDue();
});
afterAll(async () => platform.close());

const ctx = () => platform.servers[0]!.ctx;

describe('availability', () => {
  it("today's bill does not exist yet, and before 10:00 the next day it is still being generated", async () => {
    await expect(downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05' })).rejects.toMatchObject({ status: 400, code: 'PARAM_ERROR' });
    clock.set('2026-01-06T01:00:00Z');
    await expect(downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05' })).rejects.toMatchObject({ status: 400, code: 'STATEMENT_CREATING' });
    clock.set('2026-01-06T02:30:00Z');
  });

  it('a day without trades has no bill', async () => {
    clock.set('2026-01-06T02:30:00Z');
    await expect(downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-04' })).rejects.toMatchObject({ status: 400, code: 'NO_STATEMENT_EXIST' });
  });

  it('refuses a malformed date before calling', async () => {
    await expect(downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-1-5' })).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('the ALL bill of 2026-01-05', () => {
  // 10:30 in Beijing the next day: the bill is ready.
  beforeAll(() => clock.set('2026-01-06T02:30:00Z'));

  it('lists the three payments and the refund with exact fen and a summary that adds up', async () => {
    const { bill, file, hashValue } = await downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05' });
    expect(hashValue).toMatch(/^[0-9a-f]{40}$/);
    expect([...file.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(file.subarray(-2).toString()).toBe('\r\n');
    expect(bill.headers).toHaveLength(27);
    expect(bill.rows).toHaveLength(4);
    const payments = bill.rows.filter((r) => r.tradeState === 'SUCCESS');
    expect(payments.map((r) => [r.outTradeNo, r.transactionId, r.totalFen, r.settlementTotalFen])).toEqual(paid.map((p) => [p.outTradeNo, p.transactionId, BigInt(p.amountFen), BigInt(p.amountFen)]));
    expect(payments.map((r) => r.feeFen)).toEqual([1n, 14n, 600n]);
    expect(payments[0]!.attach).toBe('a,b');
    expect(payments[0]!.tradeTime).toBe('2026-01-05 10:00:00');
    const [refund] = bill.rows.filter((r) => r.tradeState === 'REFUND');
    expect(refund).toMatchObject({ outTradeNo: paid[1]!.outTradeNo, outRefundNo, refundFen: 345n, requestedRefundFen: 345n, refundStatus: 'SUCCESS', feeFen: -2n, totalFen: 0n });
    expect(bill.summary).toMatchObject({ tradeCount: 4, settlementTotalFen: 102_444n, totalFen: 102_444n, refundFen: 345n, requestedRefundFen: 345n, feeFen: 613n });
  });

  it('parses exactly as castCsvBill reads the same file', async () => {
    const { bill, file } = await downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05' });
    const theirs = Formatter.castCsvBill(file) as { rows: Record<string, string>[]; summary: Record<string, string> };
    expect(bill.rows.map((r) => r.fields)).toEqual(theirs.rows);
    expect(bill.summary.fields).toEqual(theirs.summary);
  });

  it('the gzip download is the same file, its SHA1 checked after gunzip', async () => {
    const plain = await downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05' });
    const gz = await downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05', gzip: true });
    expect(gz.file.equals(plain.file)).toBe(true);
    expect(gz.hashValue).toBe(plain.hashValue);
  });

  it('the SUCCESS and REFUND bills carry their own columns', async () => {
    const success = await downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05', billType: 'SUCCESS' });
    expect(success.bill.headers).toHaveLength(20);
    expect(success.bill.rows.map((r) => r.outTradeNo)).toEqual(paid.map((p) => p.outTradeNo));
    expect(success.bill.summary).toMatchObject({ tradeCount: 3, totalFen: 102_444n, feeFen: 615n });
    const refunds = await downloadTradeBill(ctx(), t.tenantId, { billDate: '2026-01-05', billType: 'REFUND' });
    expect(refunds.bill.headers).toHaveLength(29);
    expect(refunds.bill.rows).toHaveLength(1);
    expect(refunds.bill.rows[0]!.refundSucceededAt).toMatch(/^2026-01-05 /);
  });
});
