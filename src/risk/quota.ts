// Daily query quotas: one atomic counter per tenant, kind, opaque key and Asia/Shanghai business day.
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import { businessDay, nextQuotaReset, shanghaiIso } from './policy.ts';
import { incrementQuota, quotaUsed } from './store.ts';

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
