// Freshness rules: what each tenant setting means, when a kept balance may answer, and when a fallback is stale.
import { describe, expect, it } from 'vitest';
import { CLOCK_SKEW_TOLERANCE_MS, freshnessPlan, isStaleFallback, isWithinAge, newest, servable, T1_REFRESH_MS, type KeptBalance } from '../../../src/core/freshness.ts';

const T0 = new Date('2026-01-05T02:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const kept = (fetchedMs: number, asOfMs = fetchedMs, fen = 100n): KeptBalance => ({ availableFen: fen, ledgerFen: fen, currency: 'CNY', asOf: at(asOfMs), fetchedAt: at(fetchedMs) });

describe('freshness', () => {
  it('maps the tenant settings to plans: real time, a max age in ms, T+1', () => {
    expect(freshnessPlan('realtime')).toEqual({ mode: 'realtime', label: 'realtime', maxAgeMs: 0 });
    expect(freshnessPlan(30)).toEqual({ mode: 'cached', label: 'cached', maxAgeMs: 30_000 });
    expect(freshnessPlan(60).maxAgeMs).toBe(60_000);
    expect(freshnessPlan('t+1')).toEqual({ mode: 't+1', label: 't+1', maxAgeMs: T1_REFRESH_MS });
  });

  it('refuses settings the policy schema would refuse', () => {
    for (const bad of [0, -1, 1.5, 86_401]) expect(() => freshnessPlan(bad)).toThrow();
  });

  it('serves a cached tier from a value fetched within its age, the boundary included', () => {
    const plan = freshnessPlan(30);
    expect(servable(kept(0), plan, at(30_000))).toBe(true);
    expect(servable(kept(0), plan, at(30_001))).toBe(false);
    expect(servable(undefined, plan, at(0))).toBe(false);
  });

  it('never serves real time from a kept value', () => {
    expect(servable(kept(0), freshnessPlan('realtime'), at(0))).toBe(false);
  });

  it("serves T+1 only from a value of today's cut-off", () => {
    const plan = freshnessPlan('t+1');
    const cut = at(-3_600_000);
    expect(servable(kept(0, -3_600_000), plan, at(1_000), cut)).toBe(true);
    expect(servable(kept(0, -90_000_000), plan, at(1_000), cut)).toBe(false);
    expect(servable(kept(0, -3_600_000), plan, at(T1_REFRESH_MS + 1), cut)).toBe(false);
  });

  it('trusts a stamp slightly in the future (another instance’s clock) but not far ahead', () => {
    expect(isWithinAge(at(CLOCK_SKEW_TOLERANCE_MS), at(0), 30_000)).toBe(true);
    expect(isWithinAge(at(CLOCK_SKEW_TOLERANCE_MS + 1), at(0), 30_000)).toBe(false);
  });

  it('calls every real-time fallback stale, a cached-tier fallback only past its age, and T+1 only for an earlier cut-off', () => {
    expect(isStaleFallback(kept(0), freshnessPlan('realtime'), at(1))).toBe(true);
    expect(isStaleFallback(kept(0), freshnessPlan(60), at(60_000))).toBe(false);
    expect(isStaleFallback(kept(0), freshnessPlan(60), at(60_001))).toBe(true);
    const cut = at(0);
    expect(isStaleFallback(kept(5, 0), freshnessPlan('t+1'), at(10), cut)).toBe(false);
    expect(isStaleFallback(kept(5, -86_400_000), freshnessPlan('t+1'), at(10), cut)).toBe(true);
  });

  it("takes the later value by the core's instant, then by fetch time", () => {
    const a = kept(10, 10, 1n);
    const b = kept(5, 20, 2n);
    expect(newest(a, b)).toBe(b);
    expect(newest(kept(1, 10), kept(2, 10))?.fetchedAt).toEqual(at(2));
    expect(newest(undefined, a)).toBe(a);
  });
});
