// The sandbox retries a refused Pay notification on WeChat's schedule (15s … 6h, 24h4m in all) through background jobs, and stops once the server accepts it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOTIFY_RETRY_SCHEDULE_MS, sandboxPayRoutes } from '../../../../src/sandbox/pay/index.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { createJsapiOrder, payNotifications } from '../../../../src/wechat/pay/index.ts';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { payerOpenid, payTenant, type PayTestTenant } from '../../wechat/pay/helpers.ts';
import { notificationsAbout, pay } from './helpers.ts';

const clock = new ManualClock('2026-01-05T02:00:00Z');
let platform: Platform;
let t: PayTestTenant;
/** Out-trade-nos the server refuses this many more times (its database is "down" for them). */
const refuse = new Map<string, number>();
const handled: string[] = [];

beforeAll(async () => {
  platform = await startPlatform({
    clock,
    sandboxModules: [sandboxPayRoutes],
    serverModules: [
      payNotifications({
        onTransaction: async (_c, _tx, n) => {
          const left = refuse.get(n.transaction.outTradeNo) ?? 0;
          if (left > 0) {
            refuse.set(n.transaction.outTradeNo, left - 1);
            throw new Error('database unavailable');
          }
          handled.push(n.transaction.outTradeNo);
        },
      }),
    ],
  });
  t = await payTenant(platform.servers[0]!.ctx);
});
afterAll(async () => platform.close());

async function paidOrder(refusals: number): Promise<{ outTradeNo: string; prepayId: string; paidAt: number }> {
  const outTradeNo = `T${randomToken(12)}`;
  refuse.set(outTradeNo, refusals);
  const { prepayId } = await createJsapiOrder(platform.servers[0]!.ctx, t.tenantId, { appId: t.oaAppId, description: '充值', outTradeNo, amountFen: 100, payerOpenid: payerOpenid() });
  const paidAt = clock.now().getTime();
  expect((await pay(platform, prepayId)).status).toBe(200);
  return { outTradeNo, prepayId, paidAt };
}

const runSandboxJobs = () => platform.sandbox.ctx.jobs.runDue();

describe('notification retries', () => {
  it('a notification the server keeps refusing is sent 16 times at 0, 15s, 30s, 1m, 4m, 14m, 34m, … 24h4m, then given up', async () => {
    const o = await paidOrder(1_000);
    for (const delay of NOTIFY_RETRY_SCHEDULE_MS) {
      clock.advance(delay - 1_000);
      await runSandboxJobs();
      const before = (await notificationsAbout(platform, t.tenantId, o.outTradeNo))[0]!.attempts.length;
      clock.advance(1_000);
      await runSandboxJobs();
      expect((await notificationsAbout(platform, t.tenantId, o.outTradeNo))[0]!.attempts.length).toBe(before + 1);
    }
    clock.advance(7 * 24 * 3600_000);
    await runSandboxJobs();
    const [n] = await notificationsAbout(platform, t.tenantId, o.outTradeNo);
    expect(n!.deliveredAt).toBeNull();
    expect(n!.attempts).toHaveLength(1 + NOTIFY_RETRY_SCHEDULE_MS.length);
    expect(n!.attempts.every((a) => a.status === 500)).toBe(true);
    const offsetsS = n!.attempts.map((a) => (Date.parse(a.at) - o.paidAt) / 1000);
    expect(offsetsS).toEqual([0, 15, 30, 60, 240, 840, 2040, 3840, 5640, 7440, 11040, 21840, 32640, 43440, 65040, 86640]);
    expect(offsetsS.at(-1)).toBe(24 * 3600 + 4 * 60);
    expect(handled).not.toContain(o.outTradeNo);
    // The retry job is kept as a dead letter.
    const job = await platform.db.db.selectFrom('outbox').select(['dead_at', 'attempts']).where('dedupe_key', '=', `sandbox.pay.deliver_notification:${n!.id}`).executeTakeFirstOrThrow();
    expect(job.dead_at).not.toBeNull();
    expect(job.attempts).toBe(NOTIFY_RETRY_SCHEDULE_MS.length);
  });

  it('once the server accepts a retry, the payment is processed once and nothing more is sent', async () => {
    const o = await paidOrder(2);
    clock.advance(15_000);
    await runSandboxJobs();
    clock.advance(15_000);
    await runSandboxJobs();
    const [n] = await notificationsAbout(platform, t.tenantId, o.outTradeNo);
    expect(n!.attempts.map((a) => a.status)).toEqual([500, 500, 204]);
    expect(n!.deliveredAt).not.toBeNull();
    clock.advance(2 * 24 * 3600_000);
    await runSandboxJobs();
    expect((await notificationsAbout(platform, t.tenantId, o.outTradeNo))[0]!.attempts).toHaveLength(3);
    expect(handled.filter((x) => x === o.outTradeNo)).toHaveLength(1);
  });

  it('a notification accepted at once is never retried', async () => {
    const o = await paidOrder(0);
    clock.advance(3600_000);
    await runSandboxJobs();
    const [n] = await notificationsAbout(platform, t.tenantId, o.outTradeNo);
    expect(n!.attempts.map((a) => a.status)).toEqual([204]);
    expect(handled.filter((x) => x === o.outTradeNo)).toHaveLength(1);
  });
});
