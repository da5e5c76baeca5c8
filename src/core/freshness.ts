// Pure freshness rules: what a tenant's setting means, when a kept balance may be served, and which kept value is the last known.

/** A tenant's setting: policy.balance.freshness ('realtime' or max age in seconds) or policy.noBind.freshness. */
export type Freshness = 'realtime' | number | 't+1';
/** How the answer was produced, as API.md's `freshness` field says it. */
export type FreshnessLabel = 'realtime' | 'cached' | 't+1';

/** Largest max-age a policy may set (tenants/policy-schema.ts: 86 400 s). */
export const MAX_FRESHNESS_SECONDS = 86_400;
/**
 * A kept value stamped this far in our future (another instance's clock ahead of ours) still
 * counts as fresh; beyond it the stamp is not trusted and the core is asked.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 5_000;
/**
 * A T+1 value depends only on postings up to the cut-off, but a back-dated booking (补登) can still
 * land before it; a kept T+1 value is re-read from the core after this long.
 */
export const T1_REFRESH_MS = 15 * 60_000;

export type FreshnessPlan =
  | { mode: 'realtime'; label: 'realtime'; maxAgeMs: 0 }
  | { mode: 'cached'; label: 'cached'; maxAgeMs: number }
  | { mode: 't+1'; label: 't+1'; maxAgeMs: number };

export function freshnessPlan(f: Freshness): FreshnessPlan {
  if (f === 'realtime') return { mode: 'realtime', label: 'realtime', maxAgeMs: 0 };
  if (f === 't+1') return { mode: 't+1', label: 't+1', maxAgeMs: T1_REFRESH_MS };
  if (!Number.isInteger(f) || f < 1 || f > MAX_FRESHNESS_SECONDS) {
    throw new Error(`freshness must be 'realtime', 't+1' or whole seconds from 1 to ${MAX_FRESHNESS_SECONDS}`);
  }
  return { mode: 'cached', label: 'cached', maxAgeMs: f * 1000 };
}

/** A balance wecard keeps: the core's values and when we fetched them (our clock). */
export interface KeptBalance {
  availableFen: bigint;
  ledgerFen: bigint;
  currency: string;
  /** The core's instant for the value (a T+1 value's is the cut-off). */
  asOf: Date;
  /** When wecard got it from the core (by wecard's clock): age is measured from here. */
  fetchedAt: Date;
}

/** Whether a value fetched at `fetchedAt` is at most `maxAgeMs` old at `now`. */
export function isWithinAge(fetchedAt: Date, now: Date, maxAgeMs: number): boolean {
  const age = now.getTime() - fetchedAt.getTime();
  return age <= maxAgeMs && age >= -CLOCK_SKEW_TOLERANCE_MS;
}

/**
 * The kept value that may answer without asking the core: a cached tier's value within its age,
 * or a T+1 value for today's cut-off fetched within `T1_REFRESH_MS`. Never for real time.
 */
export function servable(kept: KeptBalance | undefined, plan: FreshnessPlan, now: Date, t1AsOf?: Date): kept is KeptBalance {
  if (!kept || plan.mode === 'realtime') return false;
  if (plan.mode === 't+1' && (t1AsOf === undefined || kept.asOf.getTime() !== t1AsOf.getTime())) return false;
  return isWithinAge(kept.fetchedAt, now, plan.maxAgeMs);
}

/** The later of two kept values: by the core's instant, then by when we fetched it. */
export function newest<T extends KeptBalance>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a) return b;
  if (!b) return a;
  const d = a.asOf.getTime() - b.asOf.getTime();
  if (d !== 0) return d > 0 ? a : b;
  return a.fetchedAt.getTime() >= b.fetchedAt.getTime() ? a : b;
}

/**
 * Whether an answer from a kept value, given because the core could not be asked, is stale:
 * real time is stale whenever it is not live; a cached tier only once its value is older than the
 * tenant allows; T+1 only when the value is of an earlier cut-off than today's.
 */
export function isStaleFallback(kept: KeptBalance, plan: FreshnessPlan, now: Date, t1AsOf?: Date): boolean {
  switch (plan.mode) {
    case 'realtime':
      return true;
    case 'cached':
      return !isWithinAge(kept.fetchedAt, now, plan.maxAgeMs);
    case 't+1':
      return t1AsOf === undefined || kept.asOf.getTime() < t1AsOf.getTime();
  }
}
