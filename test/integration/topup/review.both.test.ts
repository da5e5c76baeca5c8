// The review queue: exceptions from the payment path and reconciliation, listing and assignment, four-eyes decisions that reuse the automatic paths, a failed refund, the 2-hour SLA and its escalation.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.ts';
import { getBalance } from '../../../src/ledger/index.ts';
import { topupDetail, approveReviewDecision, assignReviewItem, declineReviewDecision, decideReviewItem, getReviewItem, listReviewItems, reconcileDay, updateTopupSettings } from '../../../src/topup/index.ts';
import { libraryNotification, type PayTestTenant } from '../wechat/pay/helpers.ts';
import { assertEveryFenAccounted, baseline, CITIZEN, startTopupWorld, TENANT, type Baseline, type Session, type TopupWorld } from './world.ts';

let w: TopupWorld;
let base: Baseline;
let s: Session;
let t: PayTestTenant;
/** Payments our forged-but-signed notifications report that the sandbox cashier never took. */
let forgedPaidFen = 0n;
const clock = new ManualClock('2026-03-18T02:30:00Z');

beforeAll(async () => {
  w = await startTopupWorld({ clock });
  base = await baseline(w);
  s = await w.signIn();
  await w.bind(s, w.holder(CITIZEN.electronic));
  const creds = (await w.sandboxCall('GET', `/sandbox/api/tenants/${TENANT}/credentials`)).body;
  t = { tenantId: TENANT, credentials: creds, pay: creds.pay, oaAppId: creds.oa.appId, miniAppId: creds.miniProgram.appId };
});
afterAll(async () => {
  await w?.close();
});

const card = () => w.holder(CITIZEN.electronic).cards[0]!.number;
const posted = async () => (await getBalance(w.server.ctx.db, await w.cardAccount(card()))).postedFen;
const view = async (orderId: string) => (await topupDetail(w.server.ctx.db, TENANT, orderId))!.order;

/** Places an order and has "WeChat" report it paid with `paidFen` (a signed notification the sandbox cashier never sent). */
async function reportedPaid(amount: number, paidFen: (total: number) => number): Promise<{ orderId: string; outTradeNo: string; total: number }> {
  const order = await w.topup(s, { citizenCardNumber: card(), amount, method: 'wechat_balance' });
  expect(order.status, JSON.stringify(order.body)).toBe(201);
  const a = await w.server.ctx.db.selectFrom('topup_attempts').select(['out_trade_no']).where('order_id', '=', order.body.orderId).executeTakeFirstOrThrow();
  const total = order.body.total as number;
  const n = libraryNotification(t, {
    now: clock.now(),
    resource: {
      appid: t.miniAppId,
      mchid: t.pay.mchId,
      out_trade_no: a.out_trade_no,
      transaction_id: `42000${randomBytes(11).readBigUInt64BE().toString().padStart(20, '0')}`.slice(0, 28),
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      bank_type: 'OTHERS',
      success_time: '2026-03-18T10:35:00+08:00',
      payer: { openid: 'oPayerForgedInTests000000001' },
      amount: { total: paidFen(total), payer_total: paidFen(total), currency: 'CNY', payer_currency: 'CNY' },
    },
  });
  const res = await fetch(`${w.server.url}/wechat/pay/${TENANT}/notify`, { method: 'POST', headers: n.headers, body: n.body });
  expect(res.status).toBe(204);
  forgedPaidFen += BigInt(paidFen(total));
  return { orderId: order.body.orderId, outTradeNo: a.out_trade_no, total };
}

describe('review queue', () => {
  it('holds a payment whose amount differs from the order and queues it with a 2-hour SLA', async () => {
    const before = await posted();
    const p = await reportedPaid(10_000, (total) => total + 1);
    expect(await view(p.orderId)).toMatchObject({ status: 'review', reason: 'amount_mismatch' });
    expect(await posted()).toBe(before);
    const items = (await listReviewItems(w.server.ctx.db, TENANT)).items.filter((i) => i.orderId === p.orderId);
    expect(items).toEqual([expect.objectContaining({ class: 'amount_mismatch', amountFen: 10_001n, heldFen: 10_001n, status: 'open' })]);
    expect(items[0]!.dueAt.getTime() - items[0]!.createdAt.getTime()).toBe(2 * 3_600_000);
    await assertEveryFenAccounted(w, base, { extraPaidFen: forgedPaidFen });
  });

  it('needs a second reviewer above the four-eyes threshold and never lets the proposer approve', async () => {
    await updateTopupSettings(w.server.ctx, TENANT, 'op-admin', { fourEyesThresholdFen: 5_000n });
    const item = (await listReviewItems(w.server.ctx.db, TENANT, { class: 'amount_mismatch' })).items[0]!;
    const assigned = await assignReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-lead', assignee: 'op-bob' });
    expect(assigned.assignee).toBe('op-bob');
    expect((await listReviewItems(w.server.ctx.db, TENANT, { assignee: 'op-bob' })).items.map((i) => i.id)).toEqual([item.id]);

    const proposed = await decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-bob', decision: 'credit' });
    expect(proposed).toMatchObject({ status: 'pending_approval', proposedDecision: 'credit', proposedBy: 'op-bob' });
    await expect(approveReviewDecision(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-bob' })).rejects.toMatchObject({ code: 'forbidden' });
    const declined = await declineReviewDecision(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-carol', note: 'check the bill first' });
    expect(declined.status).toBe('open');

    await decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-bob', decision: 'credit' });
    const before = await posted();
    const done = await approveReviewDecision(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-carol' });
    expect(done).toMatchObject({ status: 'closed', decision: 'credit', decidedBy: 'op-bob', approvedBy: 'op-carol' });
    expect((await posted()) - before).toBe(10_001n);
    expect((await view(item.orderId!)).status).toBe('completed');
    await assertEveryFenAccounted(w, base, { extraPaidFen: forgedPaidFen });
  });

  it('refuses a decision that does not fit the item', async () => {
    const p = await reportedPaid(6_000, (total) => total - 1);
    const item = (await listReviewItems(w.server.ctx.db, TENANT)).items.find((i) => i.orderId === p.orderId)!;
    await expect(decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-bob', decision: 'reject' })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('sends a refund WeChat will not make back to the queue with the money still held', async () => {
    const item = (await listReviewItems(w.server.ctx.db, TENANT, { class: 'amount_mismatch' })).items[0]!;
    await updateTopupSettings(w.server.ctx, TENANT, 'op-admin', { fourEyesThresholdFen: 1_000_000n });
    await decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-bob', decision: 'refund' });
    expect((await view(item.orderId!)).status).toBe('refunding');
    // The sandbox never took this payment, so it cannot refund it: the refund fails for good.
    await w.runJobs({ topics: ['topup.refund'] });
    expect(await view(item.orderId!)).toMatchObject({ status: 'review', reason: 'refund_failed' });
    const failed = (await listReviewItems(w.server.ctx.db, TENANT, { class: 'refund_failed' })).items[0]!;
    expect(failed).toMatchObject({ heldFen: 5_999n, orderId: item.orderId });
    await decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: failed.id, operatorId: 'op-bob', decision: 'credit' });
    expect((await view(item.orderId!)).status).toBe('completed');
    await assertEveryFenAccounted(w, base, { extraPaidFen: forgedPaidFen });
  });

  it('escalates an item that misses its SLA, and again half an SLA later', async () => {
    const p = await reportedPaid(7_000, (total) => total + 2);
    const item = (await listReviewItems(w.server.ctx.db, TENANT)).items.find((i) => i.orderId === p.orderId)!;
    clock.set(item.dueAt.getTime() + 1_000);
    await w.runJobs({ topics: ['topup.review_sla'] });
    expect(await getReviewItem(w.server.ctx.db, TENANT, item.id)).toMatchObject({ escalationLevel: 1 });
    clock.set(item.dueAt.getTime() + 3_600_000 + 2_000);
    await w.runJobs({ topics: ['topup.review_sla'] });
    expect((await getReviewItem(w.server.ctx.db, TENANT, item.id)).escalationLevel).toBe(2);
    await decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-bob', decision: 'credit' });
  });

  it('reverses a credit the bill never paid when a reviewer rejects it', async () => {
    s = await w.signIn({ as: { openid: s.openid, unionid: s.unionid }, deviceId: s.deviceId }); // hours later: a fresh session
    const p = await reportedPaid(8_000, (total) => total);
    expect((await view(p.orderId)).status).toBe('completed');
    forgedPaidFen -= BigInt(p.total); // the bill, not our notification, is WeChat's word here
    clock.set('2026-03-19T03:00:00Z');
    const run = await reconcileDay(w.server.ctx, TENANT, '2026-03-18');
    expect(run.findings.find((f) => f.outTradeNo === p.outTradeNo)).toMatchObject({ class: 'credited_not_paid', action: 'review' });
    const item = (await listReviewItems(w.server.ctx.db, TENANT, { class: 'credited_not_paid' })).items.find((i) => i.outTradeNo === p.outTradeNo)!;
    expect(item.amountFen).toBe(-BigInt(p.total));
    const before = await posted();
    await decideReviewItem(w.server.ctx, { tenantId: TENANT, itemId: item.id, operatorId: 'op-bob', decision: 'reject' });
    expect(before - (await posted())).toBe(BigInt(p.total));
    expect((await view(p.orderId)).status).toBe('failed');
  });
});
