// Console read models over other modules' records: reconciliation runs and mismatches, money totals, audit search, ops.
//
// Two reads here query another module's tables (read-only) because the module exports no such
// read yet: reconciliation runs/mismatches (src/topup: topup_recon_runs, topup_recon_mismatches)
// and the audit search (src/audit: audit_log). They belong in those modules' index.ts; the
// functions are written to move there unchanged (see the report to the lead).
import { sql } from 'kysely';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import type { Db } from '../db/tx.ts';
import { sealedFrontier, verifyAuditChain } from '../audit/index.ts';
import { recomputeBalance, verifyInvariants } from '../ledger/index.ts';
import { ensureTopupAccounts, listReviewItems, topupFenAccount } from '../topup/index.ts';
import type { Selectable } from 'kysely';
import type { TopupReconRunRow } from '../topup/topup.table.ts';
import { adminDb } from './admin.table.ts';

// ---------- reconciliation ----------

export const RECON_RUNS_PAGE_MAX = 100;
export const RECON_MISMATCHES_MAX = 10_000;

export interface ReconRunView {
  id: string;
  tenantId: string;
  billDate: string;
  status: 'running' | 'done' | 'failed';
  billRows: number;
  matched: number;
  counts: Record<string, number>;
  totals: { billPaidFen: string; billRefundFen: string; recordedPaidFen: string } | null;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

const parse = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

type RunRow = Selectable<TopupReconRunRow>;
function runRows(db: Db, tenantId: string) {
  return db.selectFrom('topup_recon_runs').selectAll().where('tenant_id', '=', tenantId).orderBy('started_at', 'desc').orderBy('id', 'desc');
}

function toRunView(r: RunRow): ReconRunView {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    billDate: String(r.bill_date).slice(0, 10),
    status: r.status,
    billRows: Number(r.bill_rows),
    matched: Number(r.matched),
    counts: parse<Record<string, number> | null>(r.counts) ?? {},
    totals: parse<ReconRunView['totals']>(r.totals) ?? null,
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

export async function listReconRuns(db: Db, tenantId: string, o: { limit?: number; billDate?: string } = {}): Promise<ReconRunView[]> {
  let q = runRows(db, tenantId);
  if (o.billDate) q = q.where('bill_date', '=', o.billDate);
  return (await q.limit(Math.min(Math.max(o.limit ?? 30, 1), RECON_RUNS_PAGE_MAX)).execute()).map(toRunView);
}

export interface MismatchView {
  class: string;
  outTradeNo: string | null;
  orderId: string | null;
  billFen: string | null;
  recordedFen: string | null;
  action: string;
  reviewItemId: string | null;
  createdAt: Date;
}

export async function reconRun(db: Db, tenantId: string, runId: string): Promise<{ run: ReconRunView; mismatches: MismatchView[]; byClass: { class: string; count: number; billFen: string; recordedFen: string }[] }> {
  const r = await runRows(db, tenantId).where('id', '=', runId).executeTakeFirst();
  if (!r) throw new AppError('not_found', 'no such reconciliation run');
  const rows = await db
    .selectFrom('topup_recon_mismatches')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('run_id', '=', runId)
    .orderBy('id')
    .limit(RECON_MISMATCHES_MAX)
    .execute();
  const mismatches = rows.map((m) => ({
    class: m.class,
    outTradeNo: m.out_trade_no,
    orderId: m.order_id,
    billFen: m.bill_fen === null ? null : String(m.bill_fen),
    recordedFen: m.recorded_fen === null ? null : String(m.recorded_fen),
    action: m.action,
    reviewItemId: m.review_item_id,
    createdAt: m.created_at,
  }));
  const byClass = new Map<string, { class: string; count: number; billFen: bigint; recordedFen: bigint }>();
  for (const m of mismatches) {
    const e = byClass.get(m.class) ?? { class: m.class, count: 0, billFen: 0n, recordedFen: 0n };
    e.count++;
    e.billFen += BigInt(m.billFen ?? 0);
    e.recordedFen += BigInt(m.recordedFen ?? 0);
    byClass.set(m.class, e);
  }
  return { run: toRunView(r), mismatches, byClass: [...byClass.values()].map((e) => ({ ...e, billFen: String(e.billFen), recordedFen: String(e.recordedFen) })) };
}

export interface MoneyTotals {
  /** Every paid fen booked into the tenant's top-up accounts: creditedFen + refundedFen + heldFen. */
  bookedFen: string;
  creditedFen: string;
  refundedFen: string;
  refundingFen: string;
  /** In the suspense account. */
  heldFen: string;
  /** Held for open review items. */
  heldForReviewFen: string;
  inReviewFen: string;
  checks: {
    /** Suspense holds exactly what open review items and requested refunds explain. */
    suspenseExplained: boolean;
    /** Each top-up account's cached balance equals the sum of its postings. */
    accountsRecomputed: boolean;
    /** The ledger's invariants over all the tenant's accounts (zero-sum, no overdraft, cached = recomputed); null unless asked (it reads every posting). */
    ledger: boolean | null;
  };
  balanced: boolean;
}

/** Where the tenant's top-up money is, and whether every fen is explained. */
export async function moneyTotals(ctx: AppContext, tenantId: string, opts: { fullLedger?: boolean } = {}): Promise<MoneyTotals> {
  const f = await topupFenAccount(ctx, tenantId);
  let heldForReview = 0n;
  for (let cursor: string | undefined, i = 0; i < 100; i++) {
    const page = await listReviewItems(ctx.db, tenantId, { status: 'unresolved', limit: 100, ...(cursor ? { cursor } : {}) });
    heldForReview += page.items.reduce((s, x) => s + x.heldFen, 0n);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  const acc = await ensureTopupAccounts(ctx, tenantId);
  let accountsRecomputed = true;
  for (const id of [...acc.customerFunds, ...acc.fee, acc.suspense]) {
    if (!(await recomputeBalance(ctx.db, id, { now: ctx.clock.now() })).matches) accountsRecomputed = false;
  }
  const ledger = opts.fullLedger ? (await verifyInvariants(ctx.db, { tenantId })).ok : null;
  const checks = { suspenseExplained: f.heldFen === heldForReview + f.refundingFen, accountsRecomputed, ledger };
  return {
    bookedFen: String(f.bookedFen),
    creditedFen: String(f.creditedFen),
    refundedFen: String(f.refundedFen),
    refundingFen: String(f.refundingFen),
    heldFen: String(f.heldFen),
    heldForReviewFen: String(heldForReview),
    inReviewFen: String(f.inReviewFen),
    checks,
    balanced: checks.suspenseExplained && checks.accountsRecomputed && checks.ledger !== false,
  };
}

// ---------- audit ----------

export const AUDIT_SEARCH_PAGE_MAX = 100;

export interface AuditQuery {
  tenantId: string;
  action?: string;
  actorId?: string;
  subjectId?: string;
  outcome?: 'ok' | 'refused' | 'error';
  from?: Date;
  to?: Date;
  /** Entries with a smaller seq (the previous page's nextCursor). */
  cursor?: string;
  limit?: number;
}

export interface AuditItem {
  seq: string;
  at: Date;
  actor: { kind: string; id: string };
  action: string;
  subject: { kind: string; id: string } | null;
  outcome: string;
  detail: unknown;
  requestId: string | null;
  /** Sealed into the tenant's hash chain (rows newer than the frontier are sealed within a minute). */
  sealed: boolean;
}

export async function searchAudit(db: Db, q: AuditQuery): Promise<{ items: AuditItem[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(q.limit ?? 50, 1), AUDIT_SEARCH_PAGE_MAX);
  let query = db.selectFrom('audit_log').selectAll().where('tenant_id', '=', q.tenantId);
  if (q.action) {
    // A trailing * is a prefix; LIKE's own wildcards in the prefix are escaped.
    query = q.action.endsWith('*') ? query.where('action', 'like', `${q.action.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`) : query.where('action', '=', q.action);
  }
  if (q.actorId) query = query.where('actor_id', '=', q.actorId);
  if (q.subjectId) query = query.where('subject_id', '=', q.subjectId);
  if (q.outcome) query = query.where('outcome', '=', q.outcome);
  if (q.from) query = query.where('at', '>=', q.from);
  if (q.to) query = query.where('at', '<', q.to);
  if (q.cursor) {
    if (!/^\d{1,19}$/.test(q.cursor)) throw AppError.validation([{ field: 'cursor', message: 'is not a cursor of this list' }]);
    query = query.where('seq', '<', sql<bigint>`${q.cursor}::bigint`);
  }
  const [rows, frontier] = await Promise.all([query.orderBy('seq', 'desc').limit(limit + 1).execute(), sealedFrontier(db)]);
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      seq: String(r.seq),
      at: r.at,
      actor: { kind: r.actor_kind, id: r.actor_id },
      action: r.action,
      subject: r.subject_kind && r.subject_id ? { kind: r.subject_kind, id: r.subject_id } : null,
      outcome: r.outcome,
      detail: r.detail === null ? null : JSON.parse(r.detail),
      requestId: r.request_id,
      sealed: BigInt(r.seq) <= frontier,
    })),
    nextCursor: rows.length > limit ? String(page[page.length - 1]!.seq) : null,
  };
}

export interface ChainStatus {
  ok: boolean;
  checked: number;
  problems: number;
  pending: number;
  sealedThrough: string;
  head: { seq: string; hash: string } | null;
}

/** The tenant's chain verified end to end (time proportional to the tenant's own rows). */
export async function chainStatus(db: Db, tenantId: string): Promise<ChainStatus> {
  const r = await verifyAuditChain(db, { tenantId, maxProblems: 20 });
  const head = r.heads.find((h) => h.tenantId === tenantId);
  return { ok: r.ok, checked: r.checked, problems: r.problems.length, pending: r.pending, sealedThrough: r.sealedThrough, head: head ? { seq: head.seq, hash: head.hash } : null };
}

// ---------- ops ----------

/** An instance whose heartbeat is older than this is shown as down. */
export const INSTANCE_STALE_MS = 90_000;
export const INSTANCE_HEARTBEAT_MS = 30_000;
/** The version this process reports in the ops view. */
export const WECARD_VERSION = process.env.npm_package_version ?? '0.1.0';
const processStartedAt = new Date();

export async function heartbeat(ctx: AppContext, version = WECARD_VERSION, startedAt = processStartedAt): Promise<void> {
  const now = ctx.clock.now();
  await adminDb(ctx.db)
    .insertInto('admin_instances')
    .values({ instance_id: ctx.instanceId.slice(0, 200), version, db_kind: ctx.dbKind, started_at: startedAt, last_seen_at: now })
    .onConflict((oc) => oc.column('instance_id').doUpdateSet({ last_seen_at: now, version }))
    .execute();
}

export async function instances(ctx: AppContext): Promise<{ instanceId: string; version: string; dbKind: string; startedAt: Date; lastSeenAt: Date; healthy: boolean; self: boolean }[]> {
  const now = ctx.clock.now().getTime();
  const rows = await adminDb(ctx.db).selectFrom('admin_instances').selectAll().where('last_seen_at', '>', new Date(now - 7 * 86_400_000)).orderBy('last_seen_at', 'desc').limit(200).execute();
  return rows.map((r) => ({
    instanceId: r.instance_id,
    version: r.version,
    dbKind: r.db_kind,
    startedAt: r.started_at,
    lastSeenAt: r.last_seen_at,
    healthy: now - r.last_seen_at.getTime() < INSTANCE_STALE_MS,
    self: r.instance_id === ctx.instanceId.slice(0, 200),
  }));
}

/** Background work waiting per topic: due now, scheduled later, and dead (failed for good). */
export async function queueDepth(db: Db): Promise<{ topic: string; due: number; scheduled: number; dead: number; oldestDueAt: Date | null }[]> {
  const r = await sql<{ topic: string; due: string | number; scheduled: string | number; dead: string | number; oldest: Date | string | null }>`
    select topic,
           count(*) filter (where done_at is null and dead_at is null and run_after <= now()) as due,
           count(*) filter (where done_at is null and dead_at is null and run_after > now()) as scheduled,
           count(*) filter (where dead_at is not null) as dead,
           min(run_after) filter (where done_at is null and dead_at is null) as oldest
    from outbox where done_at is null group by topic order by topic`.execute(db);
  return r.rows.map((x) => ({ topic: x.topic, due: Number(x.due), scheduled: Number(x.scheduled), dead: Number(x.dead), oldestDueAt: x.oldest === null ? null : new Date(x.oldest) }));
}
