// Retry delays for core reads: full jitter within an exponential ceiling, the cap, and Retry-After.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelayMs, parseRetryAfterMs, retryDelayMs } from '../../../src/core/backoff.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('core/backoff');
const OPTS = { baseMs: 100, capMs: 1_000 };

describe('backoff', () => {
  it('draws each delay between zero and min(cap, base·2^(retry−1)) (property)', () => {
    check(
      seed,
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (retry, r) => {
        const d = backoffDelayMs(retry, OPTS, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(OPTS.capMs, OPTS.baseMs * 2 ** (retry - 1)));
        expect(Number.isInteger(d)).toBe(true);
      }),
    );
  });

  it('grows the ceiling exponentially until the cap', () => {
    const top = (retry: number) => backoffDelayMs(retry, OPTS, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 40].map(top)).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(3, OPTS, () => 0)).toBe(0);
  });

  it('treats a broken random source as no delay rather than an unbounded one', () => {
    expect(backoffDelayMs(2, OPTS, () => Number.NaN)).toBe(0);
    expect(backoffDelayMs(2, OPTS, () => 7)).toBe(200);
  });

  it('refuses a retry number below one', () => {
    expect(() => backoffDelayMs(0, OPTS)).toThrow();
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-05T02:00:00Z');
    expect(parseRetryAfterMs('2', now)).toBe(2_000);
    expect(parseRetryAfterMs('Mon, 05 Jan 2026 02:00:03 GMT', now)).toBe(3_000);
    expect(parseRetryAfterMs('Mon, 05 Jan 2026 01:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
  });

  it("follows the server's Retry-After within the cap and gives up beyond it", () => {
    expect(retryDelayMs(1, OPTS, 300, () => 0.5)).toBe(300);
    expect(retryDelayMs(1, OPTS, 5_000, () => 0.5)).toBeUndefined();
    expect(retryDelayMs(2, OPTS, undefined, () => 0.5)).toBe(100);
  });
});
