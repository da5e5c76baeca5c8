// The risk gates of a bound-card query around its read: cross-border and captcha before, then signal, quota and audit group-committed after.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import type { Tx } from '../db/tx.ts';
import { recordAudit, recordAudits, type AuditEntry } from '../audit/index.ts';
import { activeFreeze, checkCrossBorder, consumeQuota, consumeQuotas, crossBorderLockOn, recordRiskSignal, recordRiskSignals, requireCaptcha, type QuotaUse } from '../risk/index.ts';
import type { RequestMeta } from '../identity/index.ts';
import { networkOfPrefix } from '../shared/bins.ts';
import type { Policy } from '../tenants/index.ts';
import type { CoreCard } from '../core/index.ts';
import { GroupCommit, type Outcome } from '../db/group-commit.ts';
import { forgetUserCards } from './hot-state.ts';

export type ReadAction = 'balance.read' | 'transactions.read' | 'transactions.export' | 'trends.read' | 'overview.read';

/**
 * One read of financial data by a cardholder, as it is recorded once it has been read (and before
 * it is shown): a risk signal and a use of the daily bound-query quota when it `counts` as a
 * query, and always the audit entry (API.md / DESIGN.md: every read of financial data by a person
 * is audited).
 */
export interface ReadRecord {
  tenantId: string;
  policy: Policy;
  userId: string;
  /** The card token read; none for reads across the user's cards (overview). */
  cardId?: string | undefined;
  action: ReadAction;
  /** False for the next pages of a statement already counted: only the audit entry is written. */
  counts: boolean;
  /** Masked values only (audit refuses clear numbers). */
  detail: Record<string, unknown>;
  meta: RequestMeta;
  now: Date;
}

/**
 * The checks before a bound-card read, in the risk module's order (freeze → cross-border →
 * captcha; the freeze was checked with the card by identity's assertCardUsable): a query from
 * outside the mainland while the card's lock applies answers cross_border_locked, and a tenant
 * that puts bound queries behind a slider check answers captcha_required until one is solved.
 */
export async function gateBeforeRead(
  ctx: AppContext,
  g: { tenantId: string; policy: Policy; userId: string; core?: CoreCard | undefined; captchaAnswer?: string | string[] | undefined; ip?: string | undefined; now: Date },
): Promise<void> {
  if (g.core && g.ip) checkCrossBorder({ ip: g.ip, lockOn: cardLockOn(g.policy, g.core) });
  await requireCaptcha(ctx, { policy: g.policy, use: 'bound_query', tenantId: g.tenantId, subject: g.userId, answer: g.captchaAnswer, now: g.now });
}

/** Whether the cross-border lock applies to a card: UnionPay is the domestic network; Visa, Mastercard, JCB, Amex are international. */
export function cardLockOn(policy: Policy, core: Pick<CoreCard, 'crossBorderLock' | 'maskedNumber'>): boolean {
  const network = networkOfPrefix(core.maskedNumber.slice(0, 6));
  return crossBorderLockOn(policy, { lockOn: core.crossBorderLock, internationalNetwork: network !== undefined && network !== 'unionpay' });
}

async function auditRead(tx: Tx, r: ReadRecord, outcome: 'ok' | 'refused', extra: Record<string, unknown> = {}): Promise<void> {
  await recordAudit(tx, readEntry(r, outcome, extra));
}

function readEntry(r: ReadRecord, outcome: 'ok' | 'refused', extra: Record<string, unknown> = {}): AuditEntry {
  return {
    tenantId: r.tenantId,
    actor: { kind: 'cardholder', id: r.userId },
    action: r.action,
    ...(r.cardId ? { subject: { kind: 'card', id: r.cardId } } : { subject: { kind: 'user', id: r.userId } }),
    outcome,
    detail: { ...r.detail, ...extra },
    ...(r.meta.ip ? { ip: r.meta.ip } : {}),
    ...(r.meta.deviceId ? { deviceId: r.meta.deviceId } : {}),
    ...(r.meta.requestId ? { requestId: r.meta.requestId } : {}),
    at: r.now,
  };
}

/**
 * Applies one read record in a group-commit transaction: the risk signal (a query that tips the
 * user into a freeze is refused with card_frozen, the evidence kept), the quota (exact across
 * instances: risk's counter row is locked until the batch commits), the audit entry. A refusal
 * is audited as refused and is this record's answer; the batch goes on.
 */
async function applyRead(ctx: AppContext, tx: Tx, r: ReadRecord): Promise<QuotaUse | undefined> {
  let use: QuotaUse | undefined;
  if (r.counts) {
    const signal = await recordRiskSignal(ctx, tx, { tenantId: r.tenantId, userId: r.userId, ...(r.cardId ? { cardId: r.cardId } : {}), kind: 'query', now: r.now, ...(r.meta.ip ? { ip: r.meta.ip } : {}) });
    if (signal.action !== 'none') {
      const f = await activeFreeze(tx, { tenantId: r.tenantId, userId: r.userId, ...(r.cardId ? { cardId: r.cardId } : {}), now: r.now });
      if (f) {
        await auditRead(tx, r, 'refused', { reason: 'risk_freeze' });
        throw frozenError(f);
      }
    }
    try {
      use = await consumeQuota(tx, { tenantId: r.tenantId, kind: 'bound_query', key: r.userId, limit: r.policy.quotas.boundPerUserPerDay, now: r.now });
    } catch (err) {
      if (err instanceof AppError && err.code === 'quota_exceeded') await auditRead(tx, r, 'refused', { reason: 'quota_exceeded' });
      throw err;
    }
  }
  await auditRead(tx, r, 'ok');
  return use;
}

function frozenError(f: { until: Date; scope: 'user' | 'card' }): AppError {
  return new AppError('card_frozen', 'temporarily frozen by risk control', { until: f.until.toISOString(), scope: f.scope });
}

/**
 * applyRead for a whole batch, in a handful of statements instead of ~6 per record, with the same
 * outcome per record and the same rows as applying them one by one in order: every counting
 * record's risk signal (recordRiskSignals: one lock upsert, one insert, one count; a freeze as
 * before), then the activeFreeze check of the records whose signal acted (rare), the quota uses
 * of the records not refused (consumeQuotas: unlimited counters in one statement, limited ones
 * exactly, use by use), and every record's audit entry, ok or refused, in one INSERT.
 */
async function applyReads(ctx: AppContext, tx: Tx, rs: ReadRecord[]): Promise<Outcome<QuotaUse | undefined>[]> {
  const out: (Outcome<QuotaUse | undefined> | undefined)[] = new Array(rs.length);
  const audits: (AuditEntry | undefined)[] = new Array(rs.length);
  const counting = rs.flatMap((r, i) => (r.counts ? [i] : []));
  // The policy each record carries (the reader's cached tenant, as for its quota limit) scores its signal.
  const policies = new Map(rs.map((r) => [r.tenantId, r.policy]));
  const signals = await recordRiskSignals(
    ctx,
    tx,
    counting.map((i) => {
      const r = rs[i]!;
      return { tenantId: r.tenantId, userId: r.userId, ...(r.cardId ? { cardId: r.cardId } : {}), kind: 'query' as const, now: r.now, ...(r.meta.ip ? { ip: r.meta.ip } : {}) };
    }),
    policies,
  );
  const quotaAt: number[] = [];
  for (let j = 0; j < counting.length; j++) {
    const i = counting[j]!;
    const r = rs[i]!;
    if (signals[j]!.action !== 'none') {
      const f = await activeFreeze(tx, { tenantId: r.tenantId, userId: r.userId, ...(r.cardId ? { cardId: r.cardId } : {}), now: r.now });
      if (f) {
        audits[i] = readEntry(r, 'refused', { reason: 'risk_freeze' });
        out[i] = { ok: false, error: frozenError(f) };
        continue;
      }
    }
    quotaAt.push(i);
  }
  const uses = await consumeQuotas(
    tx,
    quotaAt.map((i) => {
      const r = rs[i]!;
      return { tenantId: r.tenantId, kind: 'bound_query' as const, key: r.userId, limit: r.policy.quotas.boundPerUserPerDay, now: r.now };
    }),
  );
  quotaAt.forEach((i, j) => {
    const u = uses[j]!;
    if (u instanceof AppError) {
      if (u.code === 'quota_exceeded') audits[i] = readEntry(rs[i]!, 'refused', { reason: 'quota_exceeded' });
      out[i] = { ok: false, error: u };
    } else out[i] = { ok: true, value: u };
  });
  rs.forEach((r, i) => {
    if (out[i] === undefined) out[i] = { ok: true, value: undefined };
    if (out[i]!.ok) audits[i] = readEntry(r, 'ok');
  });
  await recordAudits(tx, audits.filter((a): a is AuditEntry => a !== undefined));
  return out as Outcome<QuotaUse | undefined>[];
}

const writers = new WeakMap<AppContext, GroupCommit<ReadRecord, QuotaUse | undefined>>();

function writerOf(ctx: AppContext): GroupCommit<ReadRecord, QuotaUse | undefined> {
  let w = writers.get(ctx);
  if (!w) {
    w = new GroupCommit<ReadRecord, QuotaUse | undefined>(ctx.db, {
      apply: (tx, r) => applyRead(ctx, tx, r),
      applyBatch: (tx, rs) => applyReads(ctx, tx, rs),
      // Risk locks the user's subject row, then the user's quota row: order batches by user.
      lockKey: (r) => `${r.tenantId}\u0000${r.userId}`,
    });
    writers.set(ctx, w);
  }
  return w;
}

/**
 * Records a read that has been made and is about to be shown; resolves once it committed, or
 * throws the refusal (quota_exceeded { limit, resetsAt }, card_frozen { until, scope }). Records
 * of concurrent requests share one transaction (group commit).
 */
export async function recordRead(ctx: AppContext, r: ReadRecord): Promise<QuotaUse | undefined> {
  try {
    return await writerOf(ctx).submit(r);
  } catch (err) {
    // This instance stops trusting the user's cards at once; others within HOT_STATE_TTL_MS.
    if (err instanceof AppError && err.code === 'card_frozen') forgetUserCards(ctx, r.tenantId, r.userId);
    throw err;
  }
}

/** The refusal a risk freeze of the user gives on reads across cards (overview), as risk's guard words it. */
export async function refuseIfUserFrozen(ctx: AppContext, q: { tenantId: string; userId: string; now: Date }): Promise<void> {
  const f = await activeFreeze(ctx.db, q);
  if (f) throw new AppError('card_frozen', 'temporarily frozen by risk control', { until: f.until.toISOString(), scope: f.scope });
}
