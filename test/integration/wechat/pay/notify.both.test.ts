// Pay notifications at POST /wechat/pay/{tenantId}/notify and /refund-notify: built by wechatpay-axios-plugin, verified over the raw bytes, processed exactly once; forged, replayed, tampered and malformed ones change nothing.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../../src/app/errors.ts';
import { ManualClock } from '../../../../src/shared/clock.ts';
import { addPlatformKey, payNotifications, payNotificationsOf, type RefundNotification, type TransactionNotification } from '../../../../src/wechat/pay/index.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { deletePlatformKey, upsertPlatformKey } from '../../../../src/wechat/pay/store.ts';
import { PAY_TENANT_REUSE_MS } from '../../../../src/wechat/pay/tenant.ts';
import { PRUNE_NOTIFICATIONS_TOPIC } from '../../../../src/wechat/pay/jobs.ts';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { libraryNotification, librarySigned, payTenant, refundResource, transactionResource, type BuiltNotification, type PayTestTenant } from './helpers.ts';

const clock = new ManualClock('2026-01-05T02:00:00Z');
let app: TestApp;
let t: PayTestTenant;
const seen: { transactions: TransactionNotification[]; refunds: RefundNotification[] } = { transactions: [], refunds: [] };
/** Set by a test to make the handler refuse (the business check failed, or the database is down). */
let failNext = 0;

beforeAll(async () => {
  app = await startTestApp({
    clock,
    modules: [
      payNotifications({
        onTransaction: async (_ctx, _tx, n) => {
          if (failNext > 0) {
            failNext--;
            throw new AppError('conflict', 'the order does not match');
          }
          seen.transactions.push(n);
        },
        onRefund: async (_ctx, _tx, n) => {
          seen.refunds.push(n);
        },
      }),
    ],
  });
  t = await payTenant(app.ctx);
});
afterAll(async () => app.close());
beforeEach(() => {
  seen.transactions.length = 0;
  seen.refunds.length = 0;
  failNext = 0;
});

async function deliver(n: BuiltNotification | { headers: Record<string, string>; body: string | Buffer }, path = 'notify', tenantId = t.tenantId) {
  const res = await app.app.inject({ method: 'POST', url: `/wechat/pay/${tenantId}/${path}`, headers: n.headers, payload: n.body });
  return { status: res.statusCode, json: res.body ? (JSON.parse(res.body) as { code: string; message: string }) : undefined };
}

async function recorded(tenantId = t.tenantId): Promise<number> {
  const row = await app.ctx.db.selectFrom('pay_notifications').select((eb) => eb.fn.countAll<string>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('a valid payment notification', () => {
  it('is verified, decrypted and handed to onTransaction once, answered 204', async () => {
    const resource = transactionResource(t, { amount: { total: 2345, payer_total: 2345, currency: 'CNY', payer_currency: 'CNY' } });
    const n = libraryNotification(t, { resource, now: clock.now() });
    const before = await recorded();
    expect(await deliver(n)).toEqual({ status: 204, json: undefined });
    expect(seen.transactions).toHaveLength(1);
    const got = seen.transactions[0]!;
    expect(got.notificationId).toBe(n.id);
    expect(got.eventType).toBe('TRANSACTION.SUCCESS');
    expect(got.transaction).toMatchObject({ outTradeNo: resource.out_trade_no, mchId: t.pay.mchId, appId: t.miniAppId, tradeState: 'SUCCESS', amount: { totalFen: 2345, payerTotalFen: 2345, currency: 'CNY' } });
    expect(got.transaction.payerOpenid).toBe((resource.payer as { openid: string }).openid);
    expect(await recorded()).toBe(before + 1);
    const trail = await payNotificationsOf(app.ctx.db, t.tenantId, resource.out_trade_no as string);
    expect(trail.map((r) => [r.notification_id, r.state, BigInt(r.amount_fen)])).toEqual([[n.id, 'SUCCESS', 2345n]]);
    // The payer's openid never reaches a log line.
    expect(app.logs.join('\n')).not.toContain(got.transaction.payerOpenid);
  });

  it('delivered 5 times in a row and 5 times at once is processed once; every delivery is acknowledged', async () => {
    const n = libraryNotification(t, { resource: transactionResource(t), now: clock.now() });
    const before = await recorded();
    for (let i = 0; i < 5; i++) expect((await deliver(n)).status).toBe(204);
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => deliver(n)));
    expect(concurrent.map((r) => r.status)).toEqual([204, 204, 204, 204, 204]);
    expect(seen.transactions).toHaveLength(1);
    expect(await recorded()).toBe(before + 1);
  });

  it('the same order state announced under another notification id is processed once', async () => {
    const resource = transactionResource(t);
    const before = await recorded();
    await Promise.all([deliver(libraryNotification(t, { resource, now: clock.now() })), deliver(libraryNotification(t, { resource, now: clock.now() }))]);
    expect((await deliver(libraryNotification(t, { resource, now: clock.now() }))).status).toBe(204);
    expect(seen.transactions).toHaveLength(1);
    expect(await recorded()).toBe(before + 1);
  });

  it('announces one retention pass a day, with the day’s first notifications', async () => {
    const prunes = async () =>
      (await app.ctx.db.selectFrom('outbox').select('dedupe_key').where('topic', '=', PRUNE_NOTIFICATIONS_TOPIC).orderBy('dedupe_key').execute()).map((r) => r.dedupe_key);
    for (let i = 0; i < 3; i++) expect((await deliver(libraryNotification(t, { resource: transactionResource(t), now: clock.now() }))).status).toBe(204);
    const today = clock.now().toISOString().slice(0, 10);
    expect(await prunes()).toContain(`${PRUNE_NOTIFICATIONS_TOPIC}:${today}`);
    const before = (await prunes()).length;
    clock.advance(86_400_000);
    expect((await deliver(libraryNotification(t, { resource: transactionResource(t), now: clock.now() }))).status).toBe(204);
    expect(await prunes()).toHaveLength(before + 1);
    expect(await prunes()).toContain(`${PRUNE_NOTIFICATIONS_TOPIC}:${clock.now().toISOString().slice(0, 10)}`);
  });

  it('is accepted on the refund URL too (the original_type decides)', async () => {
    expect((await deliver(libraryNotification(t, { resource: transactionResource(t), now: clock.now() }), 'refund-notify')).status).toBe(204);
    expect(seen.transactions).toHaveLength(1);
  });
});

describe('notifications that change nothing', () => {
  const forger = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

  async function refused(n: { headers: Record<string, string>; body: string | Buffer }, status: number, message: RegExp, path = 'notify') {
    const before = await recorded();
    const res = await deliver(n, path);
    expect(res.status).toBe(status);
    expect(res.json?.code).toBe('FAIL');
    expect(res.json?.message).toMatch(message);
    expect(await recorded()).toBe(before);
    expect(seen.transactions).toHaveLength(0);
    expect(seen.refunds).toHaveLength(0);
  }

  it('a forged one (signed with another key under the right serial) is refused 401', async () => {
    await refused(libraryNotification(t, { resource: transactionResource(t), now: clock.now(), privateKeyPem: forger.privateKey }), 401, /does not verify/);
  });

  it('a replayed one (timestamp more than 5 minutes old, or ahead) is refused 401 even though its signature is right', async () => {
    await refused(libraryNotification(t, { resource: transactionResource(t), now: clock.now(), timestampOffsetS: -301 }), 401, /5 minutes/);
    await refused(libraryNotification(t, { resource: transactionResource(t), now: clock.now(), timestampOffsetS: 301 }), 401, /5 minutes/);
  });

  it('a tampered one (a byte changed, or re-serialised JSON) is refused 401', async () => {
    const n = libraryNotification(t, { resource: transactionResource(t), now: clock.now() });
    await refused({ headers: n.headers, body: n.body.replace('支付成功', '支付失败') }, 401, /does not verify/);
    await refused({ headers: n.headers, body: JSON.stringify(JSON.parse(n.body), null, 2) }, 401, /does not verify/);
    // A correctly signed copy of it still goes through afterwards.
    expect((await deliver(n)).status).toBe(204);
    seen.transactions.length = 0;
  });

  it('a signature probe, an unknown serial, missing headers are refused 401', async () => {
    const n = libraryNotification(t, { resource: transactionResource(t), now: clock.now() });
    await refused({ headers: { ...n.headers, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${n.headers['wechatpay-signature']}` }, body: n.body }, 401, /does not verify/);
    await refused({ headers: { ...n.headers, 'wechatpay-serial': 'PUB_KEY_ID_0199999999999999999999999999' }, body: n.body }, 401, /no platform key/);
    const { 'wechatpay-nonce': _n, ...noNonce } = n.headers;
    await refused({ headers: noNonce, body: n.body }, 401, /missing/);
  });

  it('an oversized body is refused 413, an empty one 400', async () => {
    const n = libraryNotification(t, { resource: transactionResource(t), now: clock.now() });
    await refused({ headers: n.headers, body: `${n.body}${' '.repeat(70 * 1024)}` }, 413, /too large/);
    await refused({ headers: n.headers, body: '' }, 400, /body/);
  });

  it('correctly signed but invalid JSON, missing fields or an undecryptable resource are refused 400', async () => {
    const sign = (body: string) => librarySigned(t, body, clock.now());
    await refused(sign('{"id":'), 400, /JSON/);
    const good = JSON.parse(libraryNotification(t, { resource: transactionResource(t), now: clock.now() }).body) as Record<string, any>;
    await refused(sign(JSON.stringify({ ...good, id: undefined })), 400, /id/);
    await refused(sign(JSON.stringify({ ...good, resource: { ...good.resource, ciphertext: undefined } })), 400, /ciphertext/);
    await refused(libraryNotification(t, { resource: transactionResource(t), now: clock.now(), apiV3Key: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345' }), 400, /decrypt/);
    await refused(libraryNotification(t, { resource: transactionResource(t, { amount: { total: 1.5 } }), now: clock.now() }), 400, /amount\.total/);
    await refused(libraryNotification(t, { resource: transactionResource(t, { trade_state: 'NOTPAY' }), now: clock.now() }), 400, /trade_state/);
  });

  it('a payment for another merchant or another app is refused 403', async () => {
    await refused(libraryNotification(t, { resource: transactionResource(t, { mchid: '1900000000' }), now: clock.now() }), 403, /another merchant/);
    await refused(libraryNotification(t, { resource: transactionResource(t, { appid: 'wx0000000000000000' }), now: clock.now() }), 403, /app/);
  });

  it('an unknown tenant is refused 404 and a malformed tenant id 400', async () => {
    const n = libraryNotification(t, { resource: transactionResource(t), now: clock.now() });
    expect((await deliver(n, 'notify', 'no-such-tenant')).status).toBe(404);
    expect((await deliver(n, 'notify', 'Bad_Tenant')).status).toBe(400);
  });

  it('a refused business check rolls the record back (500 … 4xx), and WeChat’s next delivery is processed', async () => {
    const n = libraryNotification(t, { resource: transactionResource(t), now: clock.now() });
    failNext = 1;
    const before = await recorded();
    const first = await deliver(n);
    expect(first.status).toBe(409);
    expect(first.json?.code).toBe('FAIL');
    expect(await recorded()).toBe(before);
    expect((await deliver(n)).status).toBe(204);
    expect(seen.transactions).toHaveLength(1);
    expect(await recorded()).toBe(before + 1);
  });
});

describe('refund notifications', () => {
  it('REFUND.SUCCESS is handed to onRefund once', async () => {
    const resource = refundResource(t);
    const n = libraryNotification(t, { kind: 'refund', resource, now: clock.now() });
    expect((await deliver(n, 'refund-notify')).status).toBe(204);
    expect((await deliver(n, 'refund-notify')).status).toBe(204);
    expect(seen.refunds).toHaveLength(1);
    expect(seen.refunds[0]!.refund).toMatchObject({ outRefundNo: resource.out_refund_no, status: 'SUCCESS', amount: { totalFen: 1000, refundFen: 300 } });
  });

  it('REFUND.ABNORMAL then REFUND.SUCCESS of one refund are two state changes, each processed once', async () => {
    const abnormal = refundResource(t, { refund_status: 'ABNORMAL', success_time: undefined });
    const success = { ...abnormal, refund_status: 'SUCCESS', success_time: '2026-01-05T11:00:00+08:00' };
    expect((await deliver(libraryNotification(t, { kind: 'refund', eventType: 'REFUND.ABNORMAL', resource: abnormal, now: clock.now() }), 'refund-notify')).status).toBe(204);
    expect((await deliver(libraryNotification(t, { kind: 'refund', resource: success, now: clock.now() }), 'refund-notify')).status).toBe(204);
    expect(seen.refunds.map((r) => r.refund.status)).toEqual(['ABNORMAL', 'SUCCESS']);
  });

  it('an event type that contradicts the refund status is refused 400', async () => {
    const res = await deliver(libraryNotification(t, { kind: 'refund', eventType: 'REFUND.CLOSED', resource: refundResource(t), now: clock.now() }), 'refund-notify');
    expect(res.status).toBe(400);
    expect(seen.refunds).toHaveLength(0);
  });
});

describe('platform key rotation by serial', () => {
  it('a notification signed with a new platform key is refused until the key is added, then accepted; the old key still verifies', async () => {
    const next = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const serial = 'PUB_KEY_ID_0177777777777777777777777777';
    const signedNew = () => libraryNotification(t, { resource: transactionResource(t), now: clock.now(), privateKeyPem: next.privateKey, serial });
    expect((await deliver(signedNew())).status).toBe(401);
    await expect(addPlatformKey(app.ctx, t.tenantId, { pem: next.publicKey })).rejects.toMatchObject({ code: 'validation_failed' });
    expect(await addPlatformKey(app.ctx, t.tenantId, { pem: next.publicKey, serialNo: serial })).toEqual({ serialNo: serial, kind: 'public_key' });
    expect((await deliver(signedNew())).status).toBe(204);
    expect((await deliver(libraryNotification(t, { resource: transactionResource(t), now: clock.now() }))).status).toBe(204);
    expect(seen.transactions).toHaveLength(2);
  });

  it('a key another instance added verifies here at once; one it removed stops verifying here within PAY_TENANT_REUSE_MS', async () => {
    const next = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const serial = 'PUB_KEY_ID_0188888888888888888888888888';
    const signedNew = () => libraryNotification(t, { resource: transactionResource(t), now: clock.now(), privateKeyPem: next.privateKey, serial });
    // This instance has just read the tenant's set-up, so it is remembered.
    expect((await deliver(libraryNotification(t, { resource: transactionResource(t), now: clock.now() }))).status).toBe(204);
    // Another instance adds the key (its addPlatformKey's write): the remembered set-up lacks it, a fresh read has it.
    await inTx(app.ctx.db, (tx) => upsertPlatformKey(tx, { tenant_id: t.tenantId, serial_no: serial, kind: 'public_key', pem: next.publicKey, not_before: null, not_after: null, added_at: clock.now() }));
    expect((await deliver(signedNew())).status).toBe(204);
    await inTx(app.ctx.db, (tx) => deletePlatformKey(tx, t.tenantId, serial));
    await new Promise((r) => setTimeout(r, PAY_TENANT_REUSE_MS + 100));
    expect((await deliver(signedNew())).status).toBe(401);
    expect(seen.transactions).toHaveLength(2);
  });
});
