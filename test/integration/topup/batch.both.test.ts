// Payment notifications group-committed: a batch leaves exactly what the same payments applied one by one leave, keeps a card within its PBOC cap across the batch, routes its exceptions through the single path, and concurrent deliveries through the route credit every order once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.ts';
import { inTx } from '../../../src/db/tx.ts';
import { findAccountByCode, getBalance, transfer } from '../../../src/ledger/index.ts';
import { queryOrder, type PayTransaction } from '../../../src/wechat/pay/index.ts';
import { applyPayment, applyPayments } from '../../../src/topup/payments.ts';
import { listReviewItems } from '../../../src/topup/index.ts';
import { testDbKind } from '../../helpers/db.ts';
import { assertEveryFenAccounted, baseline, CITIZEN, startTopupWorld, TENANT, type Baseline, type Session, type TopupWorld } from './world.ts';

let w: TopupWorld;
let base: Baseline;
let s: Session;
/** Payments the tests invent (never made at the cashier) that review items hold: WeChat's side of the accounting. */
let invented = 0n;
// A working-day afternoon before 16:00 (instant settlement) for most tests; one test moves to the evening window.
const clock = new ManualClock('2026-03-18T03:30:00Z');

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
const faults = (f: Record<string, unknown>) => w.sandboxCall('PUT', `/sandbox/api/pay/tenants/${TENANT}/faults`, f);
const db = () => w.server.ctx.db;

async function outTradeNoOf(orderId: string): Promise<string> {
  const a = await db().selectFrom('topup_attempts').select('out_trade_no').where('order_id', '=', orderId).orderBy('created_at').executeTakeFirstOrThrow();
  return a.out_trade_no;
}

/**
 * Orders paid at the sandbox cashier whose notifications are lost (each first delivery carries a bad
 * signature), with the payments as the platform reports them: the input a batch is built from.
 */
async function paidButUnnotified(amounts: { amount: number; method: string }[]): Promise<{ orderId: string; t: PayTransaction }[]> {
  const out: { orderId: string; t: PayTransaction }[] = [];
  clock.advance(60_000); // a fresh minute of the 10-orders-a-minute limit
  for (const a of amounts) {
    const order = await w.topup(s, { citizenCardNumber: card(), amount: a.amount, method: a.method });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    await faults({ probeCount: 1 });
    const paid = await w.pay(w.prepayOf(order.body.payParams));
    expect(paid.body.notification.delivered).toBe(false);
    out.push({ orderId: order.body.orderId, t: await queryOrder(w.server.ctx, TENANT, await outTradeNoOf(order.body.orderId)) });
  }
  await faults({ probeCount: 0 });
  return out;
}

/** An order's trail without its identities: the row's money and status columns, its history, its jobs and its ledger movements. */
async function trail(orderId: string) {
  const o = await db().selectFrom('topup_orders').selectAll().where('id', '=', orderId).executeTakeFirstOrThrow();
  const history = await db().selectFrom('topup_history').select(['status', 'event', 'note', 'at']).where('order_id', '=', orderId).orderBy('seq').execute();
  const jobs = await db().selectFrom('outbox').select(['topic', 'payload', 'dedupe_key', 'run_after']).where('dedupe_key', 'like', `%${orderId}%`).orderBy('id').execute();
  const moves = await db()
    .selectFrom('ledger_transfers')
    .select(['idempotency_id', 'kind', 'amount_fen', 'description', 'counterparty', 'state', 'debit_account_id', 'credit_account_id'])
    .where('tenant_id', '=', TENANT)
    .where('idempotency_id', 'like', `topup:${orderId}:%`)
    .orderBy('idempotency_id')
    .execute();
  const attempt = await db().selectFrom('topup_attempts').select(['state', 'paid_fen', 'bank_type', 'success_time', 'updated_at']).where('order_id', '=', orderId).executeTakeFirstOrThrow();
  const strip = (v: string) => v.replaceAll(orderId, '<order>');
  return {
    order: {
      status: o.status,
      reason: o.reason,
      method: o.method,
      amount: String(o.amount_fen),
      fee: String(o.fee_fen),
      paid: o.paid_fen === null ? null : String(o.paid_fen),
      paidAt: o.paid_at,
      creditedAt: o.credited_at,
      completedAt: o.completed_at,
      expectedArrival: o.expected_arrival,
      settleKind: o.settle_kind,
      settleDueAt: o.settle_due_at,
      calendarCovered: o.calendar_covered,
      updatedAt: o.updated_at,
      paidByItsAttempt: o.paid_out_trade_no !== null,
    },
    attempt: { ...attempt, paid_fen: attempt.paid_fen === null ? null : String(attempt.paid_fen) },
    history,
    jobs: jobs.map((j) => ({ topic: j.topic, payload: strip(JSON.stringify(j.payload)), key: strip(j.dedupe_key ?? ''), runAfter: j.run_after })),
    moves: moves.map((m) => ({ ...m, idempotency_id: strip(m.idempotency_id), amount_fen: String(m.amount_fen), debit_account_id: m.kind, credit_account_id: m.kind === 'topup' ? 'card' : 'fee' })),
  };
}

/**
 * `a` with what `b` got before its payment (the order's creation time, its expiry job) and the
 * platform's payment time of `b`: the orders were made and paid at the cashier a moment apart.
 */
function sameBut(a: Awaited<ReturnType<typeof trail>>, b: Awaited<ReturnType<typeof trail>>) {
  const before = (h: { event: string }) => h.event === 'created';
  const expiry = (j: { topic: string }) => j.topic === 'topup.expire';
  return {
    ...a,
    order: { ...a.order, paidAt: b.order.paidAt },
    attempt: { ...a.attempt, success_time: b.attempt.success_time },
    history: [...b.history.filter(before), ...a.history.filter((h) => !before(h))],
    jobs: [...b.jobs.filter(expiry), ...a.jobs.filter((j) => !expiry(j))],
  };
}

describe('group-committed payment notifications', () => {
  it('leaves exactly what the same payments applied one by one leave', async () => {
    const shapes = [
      { amount: 10_000, method: 'wechat_balance' },
      { amount: 20_000, method: 'bank_card' },
      { amount: 5_000, method: 'wechat_balance' },
    ];
    const single = await paidButUnnotified(shapes);
    const batch = await paidButUnnotified(shapes);
    for (const p of single) await inTx(db(), (tx) => applyPayment(w.server.ctx, tx, TENANT, p.t, 'notification'));
    await inTx(db(), (tx) => applyPayments(w.server.ctx, tx, batch.map((p) => ({ tenantId: TENANT, transaction: p.t })), 'notification'));
    for (let i = 0; i < shapes.length; i++) {
      const a = await trail(single[i]!.orderId);
      const b = await trail(batch[i]!.orderId);
      expect(a.order.status).toBe('completed');
      expect(b).toEqual(sameBut(a, b));
      expect(b.history.map((h) => h.event)).toEqual(['created', 'paid_by_notification', 'credited', 'settled']);
    }
    // WeChat's retries of the lost deliveries are acknowledged and change nothing.
    await w.runSandboxJobs({ now: new Date(clock.now().getTime() + 60_000) });
    for (const p of batch) expect((await trail(p.orderId)).history).toHaveLength(4);
    await assertEveryFenAccounted(w, base);
  });

  it('keeps the card within its PBOC cap across the payments of one batch', async () => {
    const acct = await w.cardAccount(card());
    const [first, second] = await paidButUnnotified([
      { amount: 5_000, method: 'wechat_balance' },
      { amount: 5_000, method: 'wechat_balance' },
    ]);
    // The card is topped up at a counter to ¥70 below its ¥5,000 cap: one payment fits, not both.
    const b = await getBalance(db(), acct);
    const clearing = (await findAccountByCode(db(), TENANT, 'clearing'))!;
    const room = 500_000n - b.postedFen - b.pendingCreditFen - 7_000n;
    await inTx(db(), (tx) => transfer(tx, { idempotencyId: `test:counter:batch-cap`, debitAccountId: clearing.id, creditAccountId: acct, amountFen: room, kind: 'counter_topup', description: '柜台充值', now: clock.now() }));
    base.totalFen += room; // not top-up money: outside the accounting

    await inTx(db(), (tx) =>
      applyPayments(w.server.ctx, tx, [first!, second!].map((p) => ({ tenantId: TENANT, transaction: p.t })), 'notification'),
    );
    const after = await getBalance(db(), acct);
    expect(after.postedFen + after.pendingCreditFen).toBe(500_000n - 2_000n);
    const statuses = [(await trail(first!.orderId)).order, (await trail(second!.orderId)).order].map((o) => `${o.status}:${o.reason ?? ''}`).sort();
    expect(statuses).toEqual(['completed:', 'refunding:stored_value_limit']);
    await assertEveryFenAccounted(w, base);
    await inTx(db(), (tx) => transfer(tx, { idempotencyId: `test:spend:batch-cap`, debitAccountId: acct, creditAccountId: clearing.id, amountFen: room, kind: 'purchase', description: '消费', now: clock.now() }));
    base.totalFen -= room;
  });

  // Two transactions crediting one card at once: the second must see the first's credit before it
  // checks the cap, so the card's row is locked before its stored value is read. PGlite runs one
  // transaction at a time, so the race exists on PostgreSQL only.
  it.skipIf(testDbKind() !== 'postgres')('keeps the card within its PBOC cap when two payments for it are applied in concurrent transactions', async () => {
    const acct = await w.cardAccount(card());
    const pairs = [
      await paidButUnnotified([{ amount: 5_000, method: 'wechat_balance' }, { amount: 5_000, method: 'wechat_balance' }]),
      await paidButUnnotified([{ amount: 5_000, method: 'wechat_balance' }, { amount: 5_000, method: 'wechat_balance' }]),
    ];
    const b = await getBalance(db(), acct);
    const clearing = (await findAccountByCode(db(), TENANT, 'clearing'))!;
    const room = 500_000n - b.postedFen - b.pendingCreditFen - 7_000n;
    await inTx(db(), (tx) => transfer(tx, { idempotencyId: `test:counter:concurrent-cap`, debitAccountId: clearing.id, creditAccountId: acct, amountFen: room, kind: 'counter_topup', description: '柜台充值', now: clock.now() }));
    base.totalFen += room; // not top-up money: outside the accounting

    const concurrently = async (first: (tx: Parameters<Parameters<typeof inTx>[1]>[0]) => Promise<unknown>, second: (tx: Parameters<Parameters<typeof inTx>[1]>[0]) => Promise<unknown>) => {
      // The first transaction credits and stays open while the second starts and reaches the card.
      let applied!: () => void;
      const firstApplied = new Promise<void>((r) => (applied = r));
      let commit!: () => void;
      const mayCommit = new Promise<void>((r) => (commit = r));
      const one = inTx(db(), async (tx) => {
        await first(tx);
        applied();
        await mayCommit;
      });
      await firstApplied;
      const two = inTx(db(), second);
      await new Promise((r) => setTimeout(r, 300));
      commit();
      await Promise.all([one, two]);
    };
    const ctx = w.server.ctx;
    // The single path twice, then the batch path twice.
    const [a1, a2] = pairs[0]!;
    await concurrently(
      (tx) => applyPayment(ctx, tx, TENANT, a1!.t, 'notification'),
      (tx) => applyPayment(ctx, tx, TENANT, a2!.t, 'notification'),
    );
    let after = await getBalance(db(), acct);
    expect(after.postedFen + after.pendingCreditFen).toBe(500_000n - 2_000n);
    const statusOf = async (orderId: string) => {
      const o = (await trail(orderId)).order;
      return `${o.status}:${o.reason ?? ''}`;
    };
    expect([await statusOf(a1!.orderId), await statusOf(a2!.orderId)]).toEqual(['completed:', 'refunding:stored_value_limit']);

    // Room for exactly one more payment again (¥70 below the cap), then the batch path.
    await inTx(db(), (tx) => transfer(tx, { idempotencyId: `test:spend:concurrent-cap-1`, debitAccountId: acct, creditAccountId: clearing.id, amountFen: 5_000n, kind: 'purchase', description: '消费', now: clock.now() }));
    base.totalFen -= 5_000n;
    const [b1, b2] = pairs[1]!;
    await concurrently(
      (tx) => applyPayments(ctx, tx, [{ tenantId: TENANT, transaction: b1!.t }], 'notification'),
      (tx) => applyPayments(ctx, tx, [{ tenantId: TENANT, transaction: b2!.t }], 'notification'),
    );
    after = await getBalance(db(), acct);
    expect(after.postedFen + after.pendingCreditFen).toBe(500_000n - 2_000n);
    expect([await statusOf(b1!.orderId), await statusOf(b2!.orderId)]).toEqual(['completed:', 'refunding:stored_value_limit']);
    await assertEveryFenAccounted(w, base);
    await inTx(db(), (tx) => transfer(tx, { idempotencyId: `test:spend:concurrent-cap-2`, debitAccountId: acct, creditAccountId: clearing.id, amountFen: room - 5_000n, kind: 'purchase', description: '消费', now: clock.now() }));
    base.totalFen -= room - 5_000n;
  });

  it('sends a batch’s exceptions through the single path: a mismatch to review, a repeat and a stranger’s payment to nothing, an unknown order to review', async () => {
    const [ok, off, again] = await paidButUnnotified([
      { amount: 5_000, method: 'wechat_balance' },
      { amount: 6_000, method: 'wechat_balance' },
      { amount: 7_000, method: 'wechat_balance' },
    ]);
    await inTx(db(), (tx) => applyPayment(w.server.ctx, tx, TENANT, again!.t, 'notification'));
    const repeatBefore = await trail(again!.orderId);
    const mismatch: PayTransaction = { ...off!.t, amount: { ...off!.t.amount, totalFen: off!.t.amount.totalFen + 100 } };
    const unknown: PayTransaction = { ...ok!.t, outTradeNo: 'TU000000000000000000unknown', transactionId: '4200000000000000000000000001' };
    const stranger: PayTransaction = { ...ok!.t, outTradeNo: 'XX-not-a-top-up', transactionId: '4200000000000000000000000002' };
    await inTx(db(), (tx) =>
      applyPayments(
        w.server.ctx,
        tx,
        [ok!.t, mismatch, again!.t, unknown, stranger].map((t) => ({ tenantId: TENANT, transaction: t })),
        'notification',
      ),
    );
    expect((await trail(ok!.orderId)).order.status).toBe('completed');
    expect((await trail(off!.orderId)).order).toMatchObject({ status: 'review', reason: 'amount_mismatch' });
    expect(await trail(again!.orderId)).toEqual(repeatBefore);
    const unknownItems = (await listReviewItems(db(), TENANT, { class: 'unknown_payment' })).items;
    expect(unknownItems.filter((i) => i.outTradeNo === unknown.outTradeNo)).toHaveLength(1);
    // The review items hold what WeChat reports paid; the invented payments were never made at the cashier.
    invented += 100n + BigInt(unknown.amount.totalFen);
    await assertEveryFenAccounted(w, base, { extraPaidFen: invented });
  });

  it('credits every order once when many notifications, each delivered five times, arrive at once through the route', async () => {
    const orders = [];
    clock.advance(60_000);
    for (let i = 0; i < 8; i++) {
      const order = await w.topup(s, { citizenCardNumber: card(), amount: 5_000 + 100 * i, method: 'wechat_balance' });
      expect(order.status, JSON.stringify(order.body)).toBe(201);
      orders.push(order.body);
    }
    await faults({ notifyDuplicates: 4 });
    const paid = await Promise.all(orders.map((o) => w.pay(w.prepayOf(o.payParams))));
    await faults({ notifyDuplicates: 0 });
    expect(paid.every((p) => p.body.notification.delivered)).toBe(true);
    for (const o of orders) {
      const t = await trail(o.orderId);
      expect(t.order.status).toBe('completed');
      expect(t.history.filter((h) => h.event === 'credited')).toHaveLength(1);
      expect(t.moves.filter((m) => m.kind === 'topup')).toHaveLength(1);
    }
    await assertEveryFenAccounted(w, base, { extraPaidFen: invented });
  });

  it('settles in the batch window with its job and delay message, as the single path does', async () => {
    clock.set('2026-03-18T10:30:00Z'); // 18:30 in Hangzhou: after the 16:00 cut-off
    s = await w.signIn({ as: { openid: s.openid, unionid: s.unionid }, deviceId: s.deviceId }); // the morning's session has ended
    const single = await paidButUnnotified([{ amount: 8_000, method: 'wechat_balance' }]);
    const batch = await paidButUnnotified([{ amount: 8_000, method: 'wechat_balance' }]);
    await inTx(db(), (tx) => applyPayment(w.server.ctx, tx, TENANT, single[0]!.t, 'notification'));
    await inTx(db(), (tx) => applyPayments(w.server.ctx, tx, [{ tenantId: TENANT, transaction: batch[0]!.t }], 'notification'));
    const a = await trail(single[0]!.orderId);
    const b = await trail(batch[0]!.orderId);
    expect(a.order.status).toBe('settling');
    expect(a.jobs.map((j) => j.topic).sort()).toEqual(['topup.expire', 'topup.message', 'topup.settle']);
    expect(b).toEqual(sameBut(a, b));
    // Last in the file: the settle job runs the next morning, when the sessions have ended.
    clock.set('2026-03-19T03:30:00Z');
    await w.runJobs();
    expect((await trail(batch[0]!.orderId)).order.status).toBe('completed');
    await assertEveryFenAccounted(w, base, { extraPaidFen: invented });
  });
});
