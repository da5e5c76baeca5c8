// After each fault: recovery driven to its end (the instances' own jobs first, then the due ones ahead of schedule), and the invariants: ledger, exactly-once credits and notifications, order states, every fen accounted for.
import { sql, type RawBuilder } from 'kysely';
import type { AppContext } from '../../src/app/context.ts';
import { getBalance, verifyInvariants } from '../../src/ledger/index.ts';
import { DELIVER_NOTIFICATION_TOPIC, SETTLE_REFUND_TOPIC } from '../../src/sandbox/pay/index.ts';
import { ensureTopupAccounts, QUERY_TOPIC, REFUND_TOPIC, SETTLE_TOPIC, topupFenAccount } from '../../src/topup/index.ts';
import { sleep } from './services.ts';
import { TOPUP_TENANT } from './world.ts';

/** The instances and the sandbox get this long to finish recovery on their own schedule before the runner runs due jobs early. */
const NATURAL_RECOVERY_MS = 3_000;
/** Between two early runs: each run may count as one of a job's attempts. */
const FORCE_INTERVAL_MS = 2_000;
const POLL_MS = 500;
/** Claim ahead: WeChat's notification retries span 24 h; the order query's rounds 16 min. */
const SANDBOX_AHEAD_MS = 25 * 3_600_000;
const TOPUP_AHEAD_MS = 31 * 60_000;
/** Statuses an order may rest in: money on the card (credited, settling, completed), refunded, failed, or held for a reviewer. */
export const RESTING_STATUSES = ['credited', 'settling', 'completed', 'refunded', 'failed', 'review'];
const CREDITED = ['credited', 'settling', 'completed'];
/** Dead jobs of these topics mean a recovery path gave up. */
const RECOVERY_TOPICS = [QUERY_TOPIC, REFUND_TOPIC, DELIVER_NOTIFICATION_TOPIC, SETTLE_REFUND_TOPIC];

export interface Recovery {
  ms: number;
  /** Early runs of due jobs the runner made. */
  forcedRounds: number;
  /** Orders still moving and notifications still undelivered when recovery gave up (0 and 0: done). */
  openOrders: number;
  undelivered: number;
}

async function count(ctx: AppContext, q: RawBuilder<unknown>): Promise<number> {
  const r = await q.execute(ctx.db);
  return Number((r.rows[0] as { n?: unknown } | undefined)?.n ?? 0);
}

const openOrdersQuery = () => sql<{ n: number }>`select count(*) as n from topup_orders where tenant_id = ${TOPUP_TENANT} and status in ('created', 'paid', 'refunding')`;
const undeliveredQuery = () => sql<{ n: number }>`select count(*) as n from sandbox_pay_notifications where tenant_id = ${TOPUP_TENANT} and delivered_at is null`;

/** Waits for every paid order to come to rest and every notification to be acknowledged, running due jobs early after a grace period. */
export async function recover(ctx: AppContext, maxMs: number): Promise<Recovery> {
  const started = Date.now();
  let forcedRounds = 0;
  let lastForce = 0;
  for (;;) {
    const openOrders = await count(ctx, openOrdersQuery());
    const undelivered = await count(ctx, undeliveredQuery());
    const ms = Date.now() - started;
    if ((openOrders === 0 && undelivered === 0) || ms > maxMs) return { ms, forcedRounds, openOrders, undelivered };
    if (ms >= NATURAL_RECOVERY_MS && Date.now() - lastForce >= FORCE_INTERVAL_MS) {
      lastForce = Date.now();
      forcedRounds++;
      const now = Date.now();
      // Our order query first (it credits what a lost notification did not), then WeChat's retries, which must then change nothing.
      await ctx.jobs.runDue({ topics: [QUERY_TOPIC, REFUND_TOPIC, SETTLE_TOPIC], now: new Date(now + TOPUP_AHEAD_MS) });
      await ctx.jobs.runDue({ topics: [DELIVER_NOTIFICATION_TOPIC, SETTLE_REFUND_TOPIC], now: new Date(now + SANDBOX_AHEAD_MS) });
    }
    await sleep(POLL_MS);
  }
}

export interface Verdict {
  ok: boolean;
  violations: string[];
  facts: {
    orders: number;
    byStatus: Record<string, number>;
    paidFen: bigint;
    creditedFen: bigint;
    refundedFen: bigint;
    inReviewFen: bigint;
    creditedByNotification: number;
    creditedByQuery: number;
    notifications: number;
    deliveries: number;
    repeatsAcknowledged: number;
    transfersChecked: number;
  };
}

/** Cards' balances (posted and pending loads) plus the top-up fee accounts: the independent view of what was credited. */
export async function creditedOnCards(ctx: AppContext, cardAccounts: string[]): Promise<bigint> {
  const fee = (await ensureTopupAccounts(ctx, TOPUP_TENANT)).fee;
  let total = 0n;
  for (const id of [...cardAccounts, ...fee]) {
    const b = await getBalance(ctx.db, id);
    total += b.postedFen + b.pendingCreditFen;
  }
  return total;
}

const fen = (v: unknown): bigint => BigInt(String(v ?? 0));

/** Every invariant of the run, from the database as it is now (after `recover`). */
export async function verify(ctx: AppContext, o: { cardAccounts: string[]; baselineFen: bigint }): Promise<Verdict> {
  const violations: string[] = [];
  const v = (s: string) => violations.push(s);

  // 1. The ledger: every transfer balanced, cached balances equal their postings, zero sum per currency (one snapshot).
  const ledger = await ctx.db.transaction().setIsolationLevel('repeatable read').execute((tx) => verifyInvariants(tx));
  for (const x of ledger.violations.slice(0, 10)) v(`ledger ${x.invariant} ${x.subject}: ${x.detail}`);
  if (ledger.violations.length > 10) v(`… and ${ledger.violations.length - 10} more ledger violations`);

  // 2. Order states.
  const statuses = await sql<{ status: string; n: string }>`select status, count(*) as n from topup_orders where tenant_id = ${TOPUP_TENANT} group by status`.execute(ctx.db);
  const byStatus = Object.fromEntries(statuses.rows.map((r) => [r.status, Number(r.n)]));
  for (const [status, n] of Object.entries(byStatus)) if (!RESTING_STATUSES.includes(status)) v(`${n} order(s) still ${status}`);

  // 3. Each payment WeChat took is applied exactly once: one paid attempt, one paid_by_* event, one credit of the ordered amount when credited.
  const paid = await sql<{ id: string; status: string; amount_fen: string; credits: string; credit_fen: string; paid_events: string; paid_attempts: string; by_query: string }>`
    select o.id, o.status, o.amount_fen,
      (select count(*) from ledger_transfers t where t.tenant_id = o.tenant_id and t.idempotency_id = 'topup:' || o.id || ':credit') as credits,
      (select coalesce(sum(t.amount_fen), 0) from ledger_transfers t where t.tenant_id = o.tenant_id and t.idempotency_id = 'topup:' || o.id || ':credit') as credit_fen,
      (select count(*) from topup_history h where h.order_id = o.id and h.event like 'paid\\_by\\_%') as paid_events,
      (select count(*) from topup_attempts x where x.order_id = o.id and x.state = 'paid') as paid_attempts,
      (select count(*) from topup_history h where h.order_id = o.id and h.event = 'paid_by_query') as by_query
    from sandbox_pay_orders s
    join topup_attempts a on a.out_trade_no = s.out_trade_no
    join topup_orders o on o.id = a.order_id
    where s.tenant_id = ${TOPUP_TENANT} and s.state in ('SUCCESS', 'REFUND')`.execute(ctx.db);
  let creditedByQuery = 0;
  for (const r of paid.rows) {
    if (Number(r.by_query) > 0) creditedByQuery++;
    if (Number(r.paid_attempts) !== 1) v(`order ${r.id}: ${r.paid_attempts} paid attempts for one payment`);
    if (Number(r.paid_events) !== 1) v(`order ${r.id}: applied ${r.paid_events} times`);
    if (CREDITED.includes(r.status) && (Number(r.credits) !== 1 || fen(r.credit_fen) !== fen(r.amount_fen))) v(`order ${r.id}: ${r.credits} credit(s) of ${r.credit_fen} fen for ${r.amount_fen}`);
    if (!CREDITED.includes(r.status) && Number(r.credits) !== 0) v(`order ${r.id} is ${r.status} but was credited`);
    if (!RESTING_STATUSES.includes(r.status)) v(`order ${r.id} paid at WeChat but ${r.status}`);
  }
  const paidAtWechat = await count(ctx, sql`select count(*) as n from sandbox_pay_orders where tenant_id = ${TOPUP_TENANT} and state in ('SUCCESS', 'REFUND')`);
  if (paidAtWechat !== paid.rows.length) v(`${paidAtWechat} payments at WeChat, ${paid.rows.length} of them matched to an order`);
  const unpaidCredited = await count(ctx, sql`
    select count(*) as n from topup_orders o where o.tenant_id = ${TOPUP_TENANT} and o.status in ('credited', 'settling', 'completed')
      and not exists (select 1 from topup_attempts a join sandbox_pay_orders s on s.out_trade_no = a.out_trade_no where a.order_id = o.id and s.state in ('SUCCESS', 'REFUND'))`);
  if (unpaidCredited > 0) v(`${unpaidCredited} order(s) credited without a payment at WeChat`);

  // 4. Notifications: every one WeChat owes was acknowledged; each processed at most once (repeats only acknowledged).
  const undelivered = await count(ctx, undeliveredQuery());
  if (undelivered > 0) v(`${undelivered} Pay notification(s) never acknowledged`);
  const processedTwice = await count(ctx, sql`select count(*) as n from (select subject_key from pay_notifications where tenant_id = ${TOPUP_TENANT} group by subject_key having count(*) > 1) d`);
  if (processedTwice > 0) v(`${processedTwice} payment state(s) processed more than once`);
  const notifications = await count(ctx, sql`select count(*) as n from sandbox_pay_notifications where tenant_id = ${TOPUP_TENANT} and kind = 'transaction'`);
  const processed = await count(ctx, sql`select count(*) as n from pay_notifications where tenant_id = ${TOPUP_TENANT} and original_type = 'transaction'`);
  const deliveries = await count(ctx, sql`select count(*) as n from sandbox_pay_deliveries d join sandbox_pay_notifications n on n.id = d.notification_id where n.tenant_id = ${TOPUP_TENANT} and d.status in (200, 204)`);
  if (processed > notifications) v(`${processed} notifications processed for ${notifications} sent`);

  // 5. Every fen: paid (WeChat, every order it holds for the merchant) = credited + refunded + in review, with credited seen both from the module's accounts and from the cards.
  const paidFen = fen(
    (await sql<{ n: string }>`select coalesce(sum(amount_total), 0) as n from sandbox_pay_orders where tenant_id = ${TOPUP_TENANT} and state in ('SUCCESS', 'REFUND')`.execute(ctx.db)).rows[0]?.n,
  );
  const own = await topupFenAccount(ctx, TOPUP_TENANT);
  const refundedAtWechat = fen(
    (await sql<{ n: string }>`select coalesce(sum(amount_refund), 0) as n from sandbox_pay_refunds where tenant_id = ${TOPUP_TENANT} and status = 'SUCCESS'`.execute(ctx.db)).rows[0]?.n,
  );
  const onCards = (await creditedOnCards(ctx, o.cardAccounts)) - o.baselineFen;
  if (paidFen !== own.creditedFen + own.refundedFen + own.inReviewFen) v(`paid ${paidFen} ≠ credited ${own.creditedFen} + refunded ${own.refundedFen} + in review ${own.inReviewFen}`);
  if (onCards !== own.creditedFen) v(`cards and fees moved ${onCards}, the top-up accounts say ${own.creditedFen} credited`);
  if (refundedAtWechat !== own.refundedFen) v(`WeChat refunded ${refundedAtWechat}, the top-up accounts say ${own.refundedFen}`);
  if (own.refundingFen !== 0n) v(`${own.refundingFen} fen still being refunded`);

  // 6. No recovery path gave up.
  const dead = await sql<{ topic: string; n: string }>`select topic, count(*) as n from outbox where dead_at is not null and topic = any(${RECOVERY_TOPICS}::text[]) group by topic`.execute(ctx.db);
  for (const d of dead.rows) v(`${d.n} ${d.topic} job(s) gave up`);

  return {
    ok: violations.length === 0,
    violations,
    facts: {
      orders: Object.values(byStatus).reduce((a, b) => a + b, 0),
      byStatus,
      paidFen,
      creditedFen: own.creditedFen,
      refundedFen: own.refundedFen,
      inReviewFen: own.inReviewFen,
      creditedByNotification: paid.rows.length - creditedByQuery,
      creditedByQuery,
      notifications,
      deliveries,
      repeatsAcknowledged: Math.max(0, deliveries - processed),
      transfersChecked: ledger.transfersChecked,
    },
  };
}
