// Sandbox Pay fault switches against the real client and notification routes: failing API answers, duplicate notifications, signature probes, clock skew, key rotation, refund outcomes.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sandboxPayRoutes } from '../../../../src/sandbox/pay/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import {
  addPlatformKey,
  createJsapiOrder,
  createRefund,
  payNotifications,
  queryOrder,
  queryRefund,
  type RefundNotification,
} from '../../../../src/wechat/pay/index.ts';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { payerOpenid, payTenant, type PayTestTenant } from '../../wechat/pay/helpers.ts';
import { notificationsAbout, pay, sandboxApi, setFaults } from './helpers.ts';

const clock = new ManualClock('2026-01-05T02:00:00Z');
let platform: Platform;
let t: PayTestTenant;
const handled: string[] = [];
const refunds: RefundNotification[] = [];

beforeAll(async () => {
  platform = await startPlatform({
    clock,
    sandboxModules: [sandboxPayRoutes],
    serverModules: [
      payNotifications({
        onTransaction: async (_c, _tx, n) => void handled.push(n.transaction.outTradeNo),
        onRefund: async (_c, _tx, n) => void refunds.push(n),
      }),
    ],
  });
});
afterAll(async () => platform.close());
// A fresh merchant per test: fault switches are per tenant.
beforeEach(async () => {
  t = await payTenant(platform.servers[0]!.ctx, 'payf');
});

const ctx = () => platform.servers[0]!.ctx;
const count = (outTradeNo: string) => handled.filter((x) => x === outTradeNo).length;

async function newOrder(outTradeNo = `T${randomToken(12)}`) {
  const { prepayId } = await createJsapiOrder(ctx(), t.tenantId, { appId: t.miniAppId, description: '充值', outTradeNo, amountFen: 990, payerOpenid: payerOpenid() });
  return { outTradeNo, prepayId };
}

describe('API faults', () => {
  it('a 500 answer is a retryable SYSTEM_ERROR; repeating the order with the same out_trade_no succeeds once the platform is back', async () => {
    await setFaults(platform, t.tenantId, { apiFailStatus: 500, apiFailCount: 1 });
    const outTradeNo = `T${randomToken(12)}`;
    const err = await newOrder(outTradeNo).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'PayApiError', kind: 'platform', status: 500, code: 'SYSTEM_ERROR', retryable: true });
    const o = await newOrder(outTradeNo);
    expect(o.prepayId).toMatch(/^wx/);
  });

  it('a 429 answer is FREQUENCY_LIMITED and retryable; the switches read back as set', async () => {
    await setFaults(platform, t.tenantId, { apiFailStatus: 429, apiFailCount: 2, apiDelayMs: 20 });
    expect((await sandboxApi(platform, 'GET', `/sandbox/api/pay/tenants/${t.tenantId}/faults`)).json).toMatchObject({ apiFailStatus: 429, apiFailCount: 2, apiDelayMs: 20 });
    await expect(newOrder()).rejects.toMatchObject({ status: 429, code: 'FREQUENCY_LIMITED', retryable: true });
    await expect(newOrder()).rejects.toMatchObject({ status: 429 });
    await expect(newOrder()).resolves.toMatchObject({ prepayId: expect.stringMatching(/^wx/) });
  });

  it('a probe signature on an answer is refused as untrusted, and the next answer is accepted', async () => {
    const o = await newOrder();
    await setFaults(platform, t.tenantId, { probeCount: 1 });
    await expect(queryOrder(ctx(), t.tenantId, o.outTradeNo)).rejects.toMatchObject({ kind: 'signature', code: 'INVALID_SIGNATURE' });
    expect((await queryOrder(ctx(), t.tenantId, o.outTradeNo)).tradeState).toBe('NOTPAY');
  });

  it('an answer whose timestamp is more than 5 minutes off is refused', async () => {
    const o = await newOrder();
    await setFaults(platform, t.tenantId, { timestampSkewS: -400 });
    await expect(queryOrder(ctx(), t.tenantId, o.outTradeNo)).rejects.toMatchObject({ kind: 'signature' });
    await setFaults(platform, t.tenantId, { timestampSkewS: 290 });
    expect((await queryOrder(ctx(), t.tenantId, o.outTradeNo)).tradeState).toBe('NOTPAY');
  });

  it('bad switch values are refused', async () => {
    expect((await sandboxApi(platform, 'PUT', `/sandbox/api/pay/tenants/${t.tenantId}/faults`, { apiFailStatus: 418 })).status).toBe(400);
    expect((await sandboxApi(platform, 'PUT', `/sandbox/api/pay/tenants/${t.tenantId}/faults`, { notifyDuplicates: 99 })).status).toBe(400);
    expect((await sandboxApi(platform, 'PUT', '/sandbox/api/pay/tenants/no-such-tenant/faults', {})).status).toBe(404);
  });
});

describe('notification faults', () => {
  it('duplicate copies sent at once are processed once, each acknowledged', async () => {
    await setFaults(platform, t.tenantId, { notifyDuplicates: 3 });
    const o = await newOrder();
    expect((await pay(platform, o.prepayId)).json.notification).toEqual({ delivered: true, status: 204 });
    const [n] = await notificationsAbout(platform, t.tenantId, o.outTradeNo);
    expect(n!.attempts.map((a) => a.status)).toEqual([204, 204, 204, 204]);
    expect(n!.attempts.filter((a) => a.duplicate)).toHaveLength(3);
    expect(count(o.outTradeNo)).toBe(1);
  });

  it('the same notification resent 5 times, also at once, is processed once', async () => {
    const o = await newOrder();
    await pay(platform, o.prepayId);
    const [n] = await notificationsAbout(platform, t.tenantId, o.outTradeNo);
    const resend = () => sandboxApi(platform, 'POST', `/sandbox/api/pay/notifications/${n!.id}/resend`);
    for (let i = 0; i < 2; i++) expect((await resend()).json).toEqual({ delivered: true, status: 204 });
    expect((await Promise.all([resend(), resend(), resend()])).map((r) => r.json.status)).toEqual([204, 204, 204]);
    expect(count(o.outTradeNo)).toBe(1);
  });

  it('a probe-signed notification is refused 401 without effect; the retry 15 s later is processed', async () => {
    const o = await newOrder();
    await setFaults(platform, t.tenantId, { probeCount: 1 });
    expect((await pay(platform, o.prepayId)).json.notification).toEqual({ delivered: false, status: 401 });
    expect(count(o.outTradeNo)).toBe(0);
    clock.advance(15_000);
    await platform.sandbox.ctx.jobs.runDue();
    expect((await notificationsAbout(platform, t.tenantId, o.outTradeNo))[0]!.attempts.map((a) => a.status)).toEqual([401, 204]);
    expect(count(o.outTradeNo)).toBe(1);
  });

  it('a notification replayed outside the 5-minute window is refused 401 without effect', async () => {
    const o = await newOrder();
    await setFaults(platform, t.tenantId, { timestampSkewS: -301 });
    expect((await pay(platform, o.prepayId)).json.notification).toEqual({ delivered: false, status: 401 });
    expect(count(o.outTradeNo)).toBe(0);
    await setFaults(platform, t.tenantId, { timestampSkewS: 0 });
    clock.advance(15_000);
    await platform.sandbox.ctx.jobs.runDue();
    expect(count(o.outTradeNo)).toBe(1);
  });
});

describe('platform key rotation', () => {
  it('after the platform rotates its key, answers and notifications are refused until the merchant adds the new key; then both verify', async () => {
    const o = await newOrder();
    const rotated = await sandboxApi(platform, 'POST', `/sandbox/api/pay/tenants/${t.tenantId}/platform-keys`);
    expect(rotated.status).toBe(200);
    expect(rotated.json.serialNo).toMatch(/^PUB_KEY_ID_01\d{26}$/);
    await expect(queryOrder(ctx(), t.tenantId, o.outTradeNo)).rejects.toMatchObject({ kind: 'signature', message: expect.stringMatching(/no platform key/) });
    expect((await pay(platform, o.prepayId)).json.notification).toEqual({ delivered: false, status: 401 });
    expect(count(o.outTradeNo)).toBe(0);
    await addPlatformKey(ctx(), t.tenantId, { pem: rotated.json.publicKeyPem, serialNo: rotated.json.serialNo });
    expect((await queryOrder(ctx(), t.tenantId, o.outTradeNo)).tradeState).toBe('SUCCESS');
    clock.advance(15_000);
    await platform.sandbox.ctx.jobs.runDue();
    expect(count(o.outTradeNo)).toBe(1);
  });
});

describe('refund outcomes', () => {
  it('a refund the platform ends ABNORMAL is notified as REFUND.ABNORMAL and queried as such; the order stays SUCCESS', async () => {
    await setFaults(platform, t.tenantId, { refundOutcome: 'ABNORMAL' });
    const o = await newOrder();
    await pay(platform, o.prepayId);
    const outRefundNo = `R${randomToken(12)}`;
    await createRefund(ctx(), t.tenantId, { outTradeNo: o.outTradeNo, outRefundNo, refundFen: 990, totalFen: 990 });
    await platform.sandbox.ctx.jobs.runDue();
    const mine = refunds.filter((r) => r.refund.outRefundNo === outRefundNo);
    expect(mine.map((r) => [r.eventType, r.refund.status])).toEqual([['REFUND.ABNORMAL', 'ABNORMAL']]);
    expect((await queryRefund(ctx(), t.tenantId, outRefundNo)).status).toBe('ABNORMAL');
    expect((await queryOrder(ctx(), t.tenantId, o.outTradeNo)).tradeState).toBe('SUCCESS');
  });
});
