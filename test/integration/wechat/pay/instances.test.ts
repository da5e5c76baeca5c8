// Two wecard instances on one PostgreSQL: the same Pay notification delivered to both at once is processed exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxPayRoutes } from '../../../../src/sandbox/pay/index.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { createJsapiOrder, notifyUrls, payNotifications } from '../../../../src/wechat/pay/index.ts';
import { testDbKind } from '../../../helpers/db.ts';
import { startPlatform, type Platform } from '../../../helpers/platform.ts';
import { pay, setFaults, notificationsAbout } from '../../sandbox/pay/helpers.ts';
import { libraryNotification, payerOpenid, payTenant, transactionResource, type PayTestTenant } from './helpers.ts';

describe.skipIf(testDbKind() !== 'postgres')('two instances on PostgreSQL', () => {
  let platform: Platform;
  let t: PayTestTenant;
  /** Which instance ran the handler, per out_trade_no. */
  const handledBy: { outTradeNo: string; instance: string }[] = [];

  beforeAll(async () => {
    platform = await startPlatform({
      instances: 2,
      sandboxModules: [sandboxPayRoutes],
      serverModules: [
        payNotifications({
          onTransaction: async (ctx, _tx, n) => {
            // Slow enough that the other instance's delivery arrives while this transaction holds the key.
            await new Promise((r) => setTimeout(r, 100));
            handledBy.push({ outTradeNo: n.transaction.outTradeNo, instance: ctx.instanceId });
          },
        }),
      ],
    });
    t = await payTenant(platform.servers[0]!.ctx);
  });
  afterAll(async () => platform.close());

  async function recorded(outTradeNo: string): Promise<number> {
    const rows = await platform.db.db.selectFrom('pay_notifications').select('notification_id').where('tenant_id', '=', t.tenantId).where('out_trade_no', '=', outTradeNo).execute();
    return rows.length;
  }

  it('the same notification delivered 5 times to each instance at once is processed once', async () => {
    const resource = transactionResource(t);
    const n = libraryNotification(t, { resource, now: new Date() });
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        fetch(`${platform.servers[i % 2]!.url}/wechat/pay/${t.tenantId}/notify`, { method: 'POST', headers: n.headers, body: n.body }).then((r) => r.status),
      ),
    );
    expect(statuses).toEqual(Array(10).fill(204));
    expect(handledBy.filter((h) => h.outTradeNo === resource.out_trade_no)).toHaveLength(1);
    expect(await recorded(resource.out_trade_no as string)).toBe(1);
  });

  it('the same payment under different notification ids, to both instances at once, is processed once', async () => {
    const resource = transactionResource(t);
    const statuses = await Promise.all(
      Array.from({ length: 6 }, (_, i) => {
        const n = libraryNotification(t, { resource, now: new Date() });
        return fetch(`${platform.servers[i % 2]!.url}/wechat/pay/${t.tenantId}/notify`, { method: 'POST', headers: n.headers, body: n.body }).then((r) => r.status);
      }),
    );
    expect(statuses).toEqual(Array(6).fill(204));
    expect(handledBy.filter((h) => h.outTradeNo === resource.out_trade_no)).toHaveLength(1);
  });

  it('the sandbox cashier with duplicate copies to the second instance: processed once', async () => {
    const second = platform.servers[1]!;
    const outTradeNo = `T${randomToken(12)}`;
    const notifyUrl = notifyUrls(second.ctx, t.tenantId).payment;
    const { prepayId } = await createJsapiOrder(platform.servers[0]!.ctx, t.tenantId, { appId: t.oaAppId, description: '充值', outTradeNo, amountFen: 100, payerOpenid: payerOpenid(), notifyUrl });
    await setFaults(platform, t.tenantId, { notifyDuplicates: 4 });
    expect((await pay(platform, prepayId)).json.notification.delivered).toBe(true);
    const [n] = await notificationsAbout(platform, t.tenantId, outTradeNo);
    expect(n!.attempts.map((a) => a.status)).toEqual([204, 204, 204, 204, 204]);
    expect(handledBy.filter((h) => h.outTradeNo === outTradeNo)).toEqual([{ outTradeNo, instance: second.ctx.instanceId }]);
  });
});
