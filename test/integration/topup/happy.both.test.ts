// Top-up happy paths through the sandbox cashier: each method on an electronic card, a physical card's load and 补登, settlement windows and messages, idempotency, limits, the emergency switch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.ts';
import { shanghaiRfc3339 } from '../../../src/topup/index.ts';
import { getBalance } from '../../../src/ledger/index.ts';
import { confirmLoad, ensureTopupAccounts, listReviewItems, updateTopupSettings } from '../../../src/topup/index.ts';
import { assertEveryFenAccounted, baseline, CITIZEN, startTopupWorld, TENANT, type Baseline, type Session, type TopupWorld } from './world.ts';

let w: TopupWorld;
let base: Baseline;
let electronic: Session;
let physical: Session;
const unwritten: { orderId: string; transactionId: string }[] = [];
const clock = new ManualClock('2026-03-18T02:30:00Z'); // Wednesday 10:30 in Shanghai: a working day before the cut-off

beforeAll(async () => {
  w = await startTopupWorld({ clock });
  base = await baseline(w);
  electronic = await w.signIn();
  await w.bind(electronic, w.holder(CITIZEN.electronic));
  physical = await w.signIn();
  await w.bind(physical, w.holder(CITIZEN.physical));
});
afterAll(async () => {
  await w?.close();
});

const balanceOf = async (cardNumber: string) => getBalance(w.server.ctx.db, await w.cardAccount(cardNumber));

describe('top-up happy paths', () => {
  for (const [method, amount, bankType, fee] of [
    ['wechat_balance', 10_000, 'OTHERS', 0],
    ['bank_card', 100_000, 'ICBC_DEBIT', 100],
    ['credit_card', 30_000, 'CMB_CREDIT', 180],
  ] as const) {
    it(`credits an electronic card at once when paid by ${method} before 16:00 on a working day`, async () => {
      const h = w.holder(CITIZEN.electronic);
      const before = await balanceOf(h.cards[0]!.number);
      const feeAccounts = (await ensureTopupAccounts(w.server.ctx, TENANT)).fee;
      const fees = async () => { let t = 0n; for (const a of feeAccounts) t += (await getBalance(w.server.ctx.db, a)).postedFen; return t; };
      const feeBefore = await fees();
      const order = await w.topup(electronic, { citizenCardNumber: h.cards[0]!.number, amount, method });
      expect(order.status, JSON.stringify(order.body)).toBe(201);
      expect(order.body).toMatchObject({ status: 'created', amount, fee, total: amount + fee, currency: 'CNY', method });
      expect(order.body.payParams).toMatchObject({ signType: 'RSA' });
      expect(order.body.payParams.package).toMatch(/^prepay_id=/);
      expect(order.body.expectedArrival).toBe(shanghaiRfc3339(clock.now()));

      const paid = await w.pay(w.prepayOf(order.body.payParams), bankType);
      expect(paid.status, JSON.stringify(paid.body)).toBe(200);
      expect(paid.body.notification.delivered).toBe(true);

      const view = await w.call('GET', `/api/v1/topups/${order.body.orderId}`, { session: electronic });
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({ status: 'completed', amount, fee, refunded: 0, load: null });
      expect(view.body.history.map((x: { status: string }) => x.status)).toEqual(['created', 'paid', 'credited', 'completed']);
      expect(view.body.paidAt).toBeTruthy();
      const after = await balanceOf(h.cards[0]!.number);
      expect(after.postedFen - before.postedFen).toBe(BigInt(amount));
      expect((await fees()) - feeBefore).toBe(BigInt(fee));
    });
  }

  it('holds a physical card’s top-up as a pending load until the card is written by NFC', async () => {
    const h = w.holder(CITIZEN.physical);
    const before = await balanceOf(h.cards[0]!.number);
    const order = await w.topup(physical, { citizenCardNumber: h.cards[0]!.number, amount: 20_000, method: 'wechat_balance' });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    await w.pay(w.prepayOf(order.body.payParams));
    const pending = await w.call('GET', `/api/v1/topups/${order.body.orderId}`, { session: physical });
    expect(pending.body).toMatchObject({ status: 'credited', load: { state: 'pending', deadline: shanghaiRfc3339(new Date(clock.now().getTime() + 72 * 3_600_000)) } });
    const mid = await balanceOf(h.cards[0]!.number);
    expect(mid.postedFen).toBe(before.postedFen);
    expect(mid.pendingCreditFen - before.pendingCreditFen).toBe(20_000n);

    const loaded = await w.call('POST', `/api/v1/topups/${order.body.orderId}/load`, { session: physical, body: { channel: 'nfc' } });
    expect(loaded.status, JSON.stringify(loaded.body)).toBe(200);
    expect(loaded.body).toMatchObject({ status: 'completed', load: { state: 'loaded', channel: 'nfc' } });
    const after = await balanceOf(h.cards[0]!.number);
    expect(after.postedFen - before.postedFen).toBe(20_000n);
    expect(after.pendingCreditFen).toBe(before.pendingCreditFen);
    // Confirming again changes nothing.
    const again = await w.call('POST', `/api/v1/topups/${order.body.orderId}/load`, { session: physical, body: { channel: 'nfc' } });
    expect(again.status).toBe(200);
    expect((await balanceOf(h.cards[0]!.number)).postedFen).toBe(after.postedFen);

    // Two more loads left unwritten: one completed by 补登 later, one never.
    for (const amount of [10_000, 5_000]) {
      const o = await w.topup(physical, { citizenCardNumber: h.cards[0]!.number, amount, method: 'wechat_balance' });
      const p = await w.pay(w.prepayOf(o.body.payParams));
      unwritten.push({ orderId: o.body.orderId, transactionId: p.body.transactionId });
    }
  });

  it('answers a replay with the same Idempotency-Key and body with the first answer, and another body with 409', async () => {
    const h = w.holder(CITIZEN.electronic);
    const body = { citizenCardNumber: h.cards[0]!.number, amount: 6_000, method: 'wechat_balance' };
    const first = await w.topup(electronic, body, 'replay-1');
    const second = await w.topup(electronic, body, 'replay-1');
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    const other = await w.topup(electronic, { ...body, amount: 7_000 }, 'replay-1');
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('idempotency_conflict');
  });

  it('refuses amounts outside the method’s limits with min and max, and above the anonymous card’s ¥1,000 cap', async () => {
    const h = w.holder(CITIZEN.electronic);
    const low = await w.topup(electronic, { citizenCardNumber: h.cards[0]!.number, amount: 4_999, method: 'wechat_balance' });
    expect(low.status).toBe(422);
    expect(low.body).toMatchObject({ code: 'amount_out_of_range', min: 5_000, max: 200_000 });
    const anon = await w.signIn();
    const a = w.holder(CITIZEN.anonymous);
    await w.bind(anon, a);
    const stored = await balanceOf(a.cards[0]!.number);
    const room = 100_000n - stored.postedFen - stored.pendingCreditFen;
    const capped = await w.topup(anon, { citizenCardNumber: a.cards[0]!.number, amount: 200_000, method: 'wechat_balance' });
    expect(capped.status).toBe(422);
    expect(capped.body).toMatchObject({ code: 'amount_out_of_range', min: 5_000, max: Number(room > 0n ? room : 0n), reason: 'stored_value_limit' });
  });

  it('refuses a card the caller has not bound and is no accepted contact for', async () => {
    const stranger = await w.signIn();
    const r = await w.topup(stranger, { citizenCardNumber: w.holder(CITIZEN.electronic).cards[0]!.number, amount: 5_000, method: 'wechat_balance' });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('forbidden');
  });

  it('pauses new orders with a clear message while the emergency switch is on', async () => {
    await updateTopupSettings(w.server.ctx, TENANT, 'op-duty', { paused: true, pausedMessage: '系统升级中，预计30分钟后恢复充值' });
    const h = w.holder(CITIZEN.electronic);
    const r = await w.topup(electronic, { citizenCardNumber: h.cards[0]!.number, amount: 5_000, method: 'wechat_balance' });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ code: 'service_paused', detail: '系统升级中，预计30分钟后恢复充值' });
    await updateTopupSettings(w.server.ctx, TENANT, 'op-duty', { paused: false });
    const ok = await w.topup(electronic, { citizenCardNumber: h.cards[0]!.number, amount: 5_000, method: 'wechat_balance' });
    expect(ok.status).toBe(201);
  });

  it('puts a top-up paid after 16:00 into settlement with the evening window and tells the payer in the Official Account', async () => {
    clock.set('2026-03-18T08:29:00Z');
    const oa = await w.signIn({ app: 'oa' });
    await w.bind(oa, w.holder(CITIZEN.electronic));
    clock.set('2026-03-18T08:30:00Z'); // 16:30 in Shanghai
    const h = w.holder(CITIZEN.electronic);
    const order = await w.topup(oa, { citizenCardNumber: h.cards[0]!.number, amount: 5_000, method: 'wechat_balance' });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    expect(order.body.expectedArrival).toBe('2026-03-18T18:30:00+08:00');
    await w.pay(w.prepayOf(order.body.payParams));
    const settling = await w.call('GET', `/api/v1/topups/${order.body.orderId}`, { session: oa });
    expect(settling.body).toMatchObject({ status: 'settling', expectedArrival: '2026-03-18T18:30:00+08:00' });
    await w.runJobs({ topics: ['topup.message'] });
    const delay = (await w.sandboxCall('GET', `/sandbox/api/template-messages?openid=${oa.openid}`)).body;
    expect(delay.some((m: any) => m.templateId === 'topup_delay' && m.data.keyword3.value === '预计18:30前到账')).toBe(true);

    clock.set('2026-03-18T09:30:00Z');
    expect((await w.call('GET', `/api/v1/topups/${order.body.orderId}`, { session: oa })).body.status).toBe('settling');
    clock.set('2026-03-18T10:30:01Z');
    await w.runJobs();
    const done = await w.call('GET', `/api/v1/topups/${order.body.orderId}`, { session: oa });
    expect(done.body.status).toBe('completed');
    const result = (await w.sandboxCall('GET', `/sandbox/api/template-messages?openid=${oa.openid}`)).body;
    expect(result.some((m: any) => m.templateId === 'topup_result' && m.data.keyword1.value === '50.00元')).toBe(true);
  });

  it('completes an unclaimed load by 补登 with the transaction number at a terminal within 72 hours', async () => {
    clock.advance(48 * 3_600_000);
    const order = await confirmLoad(w.server.ctx, { tenantId: TENANT, transactionId: unwritten[0]!.transactionId, channel: 'terminal', terminalId: 'HZ-T-0042' });
    expect(order).toMatchObject({ load_state: 'loaded', load_channel: 'terminal:HZ-T-0042' });
    expect(['completed', 'settling']).toContain(order.status);
  });

  it('sends a load nobody wrote within 72 hours to the review queue and refuses 补登 afterwards', async () => {
    clock.set('2026-03-21T03:00:00Z');
    await w.runJobs();
    const item = (await listReviewItems(w.server.ctx.db, TENANT)).items.find((i) => i.orderId === unwritten[1]!.orderId);
    expect(item).toMatchObject({ class: 'load_unclaimed', heldFen: 5_000n, amountFen: 5_000n, status: 'open' });
    const late = await confirmLoad(w.server.ctx, { tenantId: TENANT, transactionId: unwritten[1]!.transactionId, channel: 'terminal' }).catch((e) => e);
    expect(late).toMatchObject({ code: 'conflict', extra: { reason: 'supplement_window_passed' } });
  });

  it('accounts for every fen paid', async () => {
    const check = await assertEveryFenAccounted(w, base);
    expect(check.paidFen).toBeGreaterThan(0n);
  });
});
