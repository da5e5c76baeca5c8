// Retry delays for idempotent core reads: exponential with full jitter, capped, honouring a bounded Retry-After.

export interface BackoffOptions {
  /** Ceiling of the first retry's delay. */
  baseMs: number;
  /** No delay exceeds this, whatever the attempt or the server's Retry-After. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, capMs: 1_000 };

/**
 * The delay before retry number `retry` (1 = the first retry). Full jitter (a uniform draw in
 * [0, min(cap, base·2^(retry−1))]) spreads the retries of many instances hitting one recovering
 * core, which equal delays would synchronise. `random` returns [0, 1).
 */
export function backoffDelayMs(retry: number, opts: BackoffOptions, random: () => number = Math.random): number {
  if (!Number.isInteger(retry) || retry < 1) throw new Error('retry must be an integer ≥ 1');
  // 2^30 already exceeds any sensible cap; the bound keeps the power finite.
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(retry - 1, 30));
  const r = random();
  const u = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(u * ceiling);
}

/**
 * Seconds or an HTTP date from a Retry-After header, as ms from `nowMs`; undefined when absent or
 * unreadable. Negative values become 0.
 */
export function parseRetryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const v = header.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * The delay before a retry: the server's Retry-After when given, else the jittered backoff.
 * Undefined when the server asks for more than the cap: retrying sooner would ignore it, and a
 * user waiting for a balance is better served by the cache than by a long wait.
 */
export function retryDelayMs(retry: number, opts: BackoffOptions, retryAfterMs: number | undefined, random: () => number = Math.random): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs <= opts.capMs ? retryAfterMs : undefined;
  return backoffDelayMs(retry, opts, random);
}
