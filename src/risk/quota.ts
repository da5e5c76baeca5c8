// Daily query quotas: one atomic counter per tenant, kind, opaque key and Asia/Shanghai business day.
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import { businessDay, nextQuotaReset, shanghaiIso } from './policy.ts';
import { incrementQuota, incrementQuotasUnlimited, quotaUsed } from './store.ts';

export type QuotaKind = 'bound_query' | 'nobind_card' | 'nobind_account';

/** Longest quota key: keys are ids, tokens or blind indexes, never free text. */
export const QUOTA_KEY_MAX_CHARS = 200;
/** A bare 11–19 digit string is a card or phone number by mistake: refuse to store it (keys must be opaque). */
const LOOKS_LIKE_CARD_NUMBER = /^\d{11,19}$/;

function assertOpaqueKey(key: string): void {
  if (key.length === 0 || key.length > QUOTA_KEY_MAX_CHARS) throw new Error('quota key must be 1..200 characters');
  if (LOOKS_LIKE_CARD_NUMBER.test(key)) throw new Error('quota key looks like a card number: pass its blind index or token');
}

export interface QuotaUse {
  used: number;
  limit: number | null;
  resetsAt: Date;
}

/**
 * Counts one use against today's (Asia/Shanghai) quota atomically across instances; limit null =
 * unlimited (still counted, for the operator's figures). Throws AppError quota_exceeded
 * { limit, resetsAt } when used up, and then counts nothing. In the caller's transaction, a
 * rollback gives the use back.
 */
export async function consumeQuota(
  db: Db | Tx,
  q: { tenantId: string; kind: QuotaKind; key: string; limit: number | null; now: Date },
): Promise<QuotaUse> {
  assertOpaqueKey(q.key);
  const resetsAt = nextQuotaReset(q.now);
  if (q.limit !== null && q.limit <= 0) throw quotaExceeded(q.limit, resetsAt);
  const used = await incrementQuota(db, { tenantId: q.tenantId, kind: q.kind, key: q.key, day: businessDay(q.now), limit: q.limit, now: q.now });
  if (used === undefined) throw quotaExceeded(q.limit!, resetsAt);
  return { used, limit: q.limit, resetsAt };
}

export interface QuotaRequest {
  tenantId: string;
  kind: QuotaKind;
  key: string;
  limit: number | null;
  now: Date;
}

/**
 * consumeQuota for several uses in one transaction, with the same outcome per use as calling it
 * for each in the given order: a QuotaUse, or the quota_exceeded AppError for that use (which
 * counts nothing). Counters whose every use in the batch is unlimited are counted in one
 * statement (each use gets the count it would have got in order); a counter with a limit is
 * counted use by use, so the limit stays exact across instances. Throws (nothing counted by this
 * call's checks) on a malformed key, as consumeQuota does.
 */
export async function consumeQuotas(db: Db | Tx, qs: readonly QuotaRequest[]): Promise<(QuotaUse | AppError)[]> {
  for (const q of qs) assertOpaqueKey(q.key);
  const counterOf = (q: QuotaRequest) => `${q.tenantId}\u0000${q.kind}\u0000${q.key}\u0000${businessDay(q.now)}`;
  const limited = new Set<string>();
  for (const q of qs) if (q.limit !== null) limited.add(counterOf(q));
  const out: (QuotaUse | AppError | undefined)[] = new Array(qs.length);

  // Unlimited counters: one upsert adding each counter's number of uses; use k of n gets used - n + k.
  const bulk = new Map<string, { tenantId: string; kind: QuotaKind; key: string; day: string; now: Date; at: number[] }>();
  qs.forEach((q, i) => {
    const c = counterOf(q);
    if (limited.has(c)) return;
    const b = bulk.get(c);
    if (b) {
      b.at.push(i);
      b.now = q.now;
    } else bulk.set(c, { tenantId: q.tenantId, kind: q.kind, key: q.key, day: businessDay(q.now), now: q.now, at: [i] });
  });
  if (bulk.size > 0) {
    // Sorted: two batches lock shared counters in the same order.
    const counters = [...bulk.values()].sort((a, b) => cmp(a.tenantId, b.tenantId) || cmp(a.kind, b.kind) || cmp(a.key, b.key) || cmp(a.day, b.day));
    const totals = await incrementQuotasUnlimited(db, counters.map((c) => ({ tenantId: c.tenantId, kind: c.kind, key: c.key, day: c.day, by: c.at.length, now: c.now })));
    counters.forEach((c, j) => {
      const used = totals[j]!;
      c.at.forEach((i, k) => {
        out[i] = { used: used - c.at.length + k + 1, limit: null, resetsAt: nextQuotaReset(qs[i]!.now) };
      });
    });
  }
  // Limited counters: use by use, in order.
  for (let i = 0; i < qs.length; i++) {
    if (out[i] !== undefined) continue;
    try {
      out[i] = await consumeQuota(db, qs[i]!);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      out[i] = err;
    }
  }
  return out as (QuotaUse | AppError)[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Today's count without using any (for "n left today" in answers). */
export async function quotaStatus(
  db: Db | Tx,
  q: { tenantId: string; kind: QuotaKind; key: string; limit: number | null; now: Date },
): Promise<QuotaUse & { remaining: number | null }> {
  assertOpaqueKey(q.key);
  const used = await quotaUsed(db, { tenantId: q.tenantId, kind: q.kind, key: q.key, day: businessDay(q.now) });
  return { used, limit: q.limit, resetsAt: nextQuotaReset(q.now), remaining: q.limit === null ? null : Math.max(q.limit - used, 0) };
}

function quotaExceeded(limit: number, resetsAt: Date): AppError {
  return new AppError('quota_exceeded', `the daily quota of ${limit} is used up; it resets at 00:00 Asia/Shanghai`, {
    limit,
    resetsAt: shanghaiIso(resetsAt),
  });
}
