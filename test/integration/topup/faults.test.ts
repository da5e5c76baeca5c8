// Fault tests on PostgreSQL: repeated and concurrent notifications, a lost notification, a second payment on the WeChat side, a card that fills up before the money arrives, a trade bill with an amount mismatch; every fen accounted for after each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.ts';
import { inTx } from '../../../src/db/tx.ts';
import { findAccountByCode, findTransferByIdempotencyId, getBalance, transfer } from '../../../src/ledger/index.ts';
import { downloadTradeBill, payNotificationsOf } from '../../../src/wechat/pay/index.ts';
import { decideReviewItem, listReviewItems, reconcileDay } from '../../../src/topup/index.ts';
import { assertEveryFenAccounted, baseline, CITIZEN, startTopupWorld, TENANT, type Baseline, type Session, type TopupWorld } from './world.ts';

let w: TopupWorld;
let base: Baseline;
let s: Session;
const clock = new ManualClock('2026-03-18T02:30:00Z');

beforeAll(async () => {
  w = await startTopupWorld({ clock });
  base = await baseline(w);
  s = await w.signIn();
  await w.bind(s, w.holder(CITIZEN.electronic));
});
afterAll(async () => {
  await w?.close();
});

const card = () => w.holder(CITIZEN.electronic).cards[0]!.number;
const posted = async () => (await getBalance(w.server.ctx.db, await w.cardAccount(card()))).postedFen;
const faults = (f: Record<string, unknown>) => w.sandboxCall('PUT', `/sandbox/api/pay/tenants/${TENANT}/faults`, f);
const view = async (orderId: string) => (await w.call('GET', `/api/v1/topups/${orderId}`, { session: s })).body;

async function outTradeNoOf(orderId: string): Promise<string> {
  const a = await w.server.ctx.db.selectFrom('topup_attempts').select('out_trade_no').where('order_id', '=', orderId).orderBy('created_at').executeTakeFirstOrThrow();
  return a.out_trade_no;
}

describe('top-up faults', () => {
  it('credits once when the same notification arrives five times at once and five times more one after another', async () => {
    const before = await posted();
    const order = await w.topup(s, { citizenCardNumber: card(), amount: 12_300, method: 'wechat_balance' });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    await faults({ notifyDuplicates: 4 });
    const paid = await w.pay(w.prepayOf(order.body.payParams));
    await faults({ notifyDuplicates: 0 });
    expect(paid.body.notification.delivered).toBe(true);
    const id = paid.body.notificationId;
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => w.sandboxCall('POST', `/sandbox/api/pay/notifications/${id}/resend`)));
    expect(concurrent.every((r) => r.body.delivered)).toBe(true);
    for (let i = 0; i < 5; i++) expect((await w.sandboxCall('POST', `/sandbox/api/pay/notifications/${id}/resend`)).body.delivered).toBe(true);

    expect((await posted()) - before).toBe(12_300n);
    const v = await view(order.body.orderId);
    expect(v.status).toBe('completed');
    expect(v.history.filter((h: { event: string }) => h.event === 'credited')).toHaveLength(1);
    expect(await payNotificationsOf(w.server.ctx.db, TENANT, await outTradeNoOf(order.body.orderId))).toHaveLength(1);
    expect(await findTransferByIdempotencyId(w.server.ctx.db, TENANT, `topup:${order.body.orderId}:credit`)).toMatchObject({ amountFen: 12_300n });
    await assertEveryFenAccounted(w, base);
  });

  it('recovers a lost notification by the active order query, and WeChat’s later retry changes nothing', async () => {
    const before = await posted();
    const order = await w.topup(s, { citizenCardNumber: card(), amount: 18_800, method: 'bank_card' });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    await faults({ probeCount: 1 }); // the first delivery carries a bad signature: refused, as if lost
    const paid = await w.pay(w.prepayOf(order.body.payParams));
    expect(paid.body.notification.delivered).toBe(false);
    expect((await view(order.body.orderId)).status).toBe('created');

    clock.advance(61_000);
    await w.runJobs();
    const v = await view(order.body.orderId);
    expect(v.status).toBe('completed');
    expect(v.history.some((h: { event: string }) => h.event === 'paid_by_query')).toBe(true);
    expect((await posted()) - before).toBe(18_800n);

    // WeChat retries 15 s after the refused attempt: acknowledged, not applied again.
    await w.runSandboxJobs({ now: new Date(clock.now().getTime() + 60_000) });
    expect((await posted()) - before).toBe(18_800n);
    await assertEveryFenAccounted(w, base);
  });

  it('refunds a second payment of the same order made in another app, and reconciliation reports it', async () => {
    const before = await posted();
    const order = await w.topup(s, { citizenCardNumber: card(), amount: 20_000, method: 'wechat_balance' });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    // The same person opens the Official Account page on the same phone: another app, another WeChat order.
    await w.signIn({ app: 'oa', as: { openid: s.openid, unionid: s.unionid }, deviceId: s.deviceId });
    const again = await w.call('POST', `/api/v1/topups/${order.body.orderId}/payment`, { session: s, body: { app: 'oa' } });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.payParams.package).not.toBe(order.body.payParams.package);
    // The payer pays both (the first page still looked unpaid).
    expect((await w.pay(w.prepayOf(order.body.payParams))).body.notification.delivered).toBe(true);
    expect((await w.pay(w.prepayOf(again.body.payParams))).body.notification.delivered).toBe(true);

    let v = await view(order.body.orderId);
    expect(v.status).toBe('completed');
    expect(v.history.some((h: { event: string }) => h.event === 'duplicate_payment')).toBe(true);
    expect((await posted()) - before).toBe(20_000n);

    await w.runJobs({ topics: ['topup.refund'] });
    await w.runSandboxJobs();
    v = await view(order.body.orderId);
    expect(v).toMatchObject({ status: 'completed', refunded: 20_000 });
    expect(v.history.some((h: { event: string }) => h.event === 'duplicate_payment_refunded')).toBe(true);
    await assertEveryFenAccounted(w, base);
  });

  it('refunds automatically when the card filled up before the payment arrived (PBOC cap)', async () => {
    const acct = await w.cardAccount(card());
    const order = await w.topup(s, { citizenCardNumber: card(), amount: 5_000, method: 'wechat_balance' });
    // Meanwhile the card is topped up at a counter to its ¥5,000 cap.
    const b = await getBalance(w.server.ctx.db, acct);
    const clearing = (await findAccountByCode(w.server.ctx.db, TENANT, 'clearing'))!;
    const room = 500_000n - b.postedFen - b.pendingCreditFen;
    await inTx(w.server.ctx.db, (tx) => transfer(tx, { idempotencyId: `test:counter:${order.body.orderId}`, debitAccountId: clearing.id, creditAccountId: acct, amountFen: room, kind: 'counter_topup', description: '柜台充值', now: clock.now() }));
    base.totalFen += room; // not top-up money: outside the accounting
    await w.pay(w.prepayOf(order.body.payParams));
    expect((await view(order.body.orderId))).toMatchObject({ status: 'refunding', reason: 'stored_value_limit' });
    await w.runJobs({ topics: ['topup.refund'] });
    await w.runSandboxJobs();
    expect(await view(order.body.orderId)).toMatchObject({ status: 'refunded', refunded: 5_000 });
    expect((await getBalance(w.server.ctx.db, acct)).postedFen).toBe(b.postedFen + room);
    await assertEveryFenAccounted(w, base);
    // Spend it back down so later tests have room.
    await inTx(w.server.ctx.db, (tx) => transfer(tx, { idempotencyId: `test:spend:${order.body.orderId}`, debitAccountId: acct, creditAccountId: clearing.id, amountFen: room, kind: 'purchase', description: '消费', now: clock.now() }));
    base.totalFen -= room;
  });

  it('sends a trade bill amount mismatch to review, and a reviewer’s credit settles every fen', async () => {
    const order = await w.topup(s, { citizenCardNumber: card(), amount: 10_000, method: 'wechat_balance' });
    await w.pay(w.prepayOf(order.body.payParams));
    const outTradeNo = await outTradeNoOf(order.body.orderId);
    clock.set('2026-03-19T03:00:00Z'); // 11:00 the next day: yesterday's bill is ready
    const bill = await downloadTradeBill(w.server.ctx, TENANT, { billDate: '2026-03-18' });
    // The platform's bill says one yuan more was paid for this order than it told us.
    const text = bill.file.toString('utf8').split('\r\n').map((line) => (line.includes(outTradeNo) ? line.replaceAll('`100.00', '`101.00') : line)).join('\r\n');
    const run = await reconcileDay(w.server.ctx, TENANT, '2026-03-18', { file: Buffer.from(text, 'utf8') });
    expect(run.counts).toMatchObject({ amount_mismatch: 1, unknown_payment: 0, credited_not_paid: 0, paid_not_credited: 0, duplicate_payment: 1 });
    const mismatch = run.findings.find((f) => f.class === 'amount_mismatch')!;
    expect(mismatch).toMatchObject({ outTradeNo, billFen: 10_100n, recordedFen: 10_000n, action: 'review' });
    const item = (await listReviewItems(w.server.ctx.db, TENANT, { class: 'amount_mismatch' })).items[0]!;
    expect(item).toMatchObject({ amountFen: 100n, heldFen: 0n, status: 'open', orderId: order.body.orderId });
    await assertEveryFenAccounted(w, base, { extraPaidFen: 100n });

    // Running the day again opens nothing twice.
    await reconcileDay(w.server.ctx, TENANT, '2026-03-18', { file: Buffer.from(text, 'utf8') });
    expect((await listReviewItems(w.server.ctx.db, TENANT, { class: 'amount_mismatch' })).items).toHaveLength(1);

    const before = await posted();
    await decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-alice', decision: 'credit', note: 'bill confirmed with WeChat Pay' });
    expect((await posted()) - before).toBe(100n);
    await assertEveryFenAccounted(w, base, { extraPaidFen: 100n });
  });

  it('reconciles the untampered bill with every payment matched or explained', async () => {
    const run = await reconcileDay(w.server.ctx, TENANT, '2026-03-18');
    expect(run.counts).toMatchObject({ unknown_payment: 0, credited_not_paid: 0, paid_not_credited: 0, amount_mismatch: 0, duplicate_payment: 1 });
    expect(run.counts.matched).toBeGreaterThanOrEqual(4);
    expect(BigInt(run.totals.billPaidFen)).toBe(BigInt(run.totals.recordedPaidFen));
  });
});

