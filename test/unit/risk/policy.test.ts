// Pure risk rules: the Asia/Shanghai day boundary, anomaly scoring and its thresholds, captcha and cross-border decisions, proof of work.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { check, propertySeed } from '../shared/seed.ts';
import { presetPolicy, applyPolicyPatch, PRESET_IDS, BASE_POLICY } from '../../../src/tenants/index.ts';
import {
  anomalyScore,
  businessDay,
  captchaRequired,
  crossBorderLockOn,
  DAY_MS,
  DEFAULT_QUERIES_PER_DAY_ABOVE,
  freezeReason,
  isMainland,
  leadingZeroBits,
  NO_FEATURES,
  NOBIND_FREE_CARDS,
  nextQuotaReset,
  powSolves,
  riskAction,
  riskRules,
  RISK_FREEZE_SCORE,
  RISK_SCORE_MAX,
  RISK_WEIGHTS,
  shanghaiIso,
  startOfBusinessDay,
  type RiskFeatures,
  type RiskRules,
} from '../../../src/risk/policy.ts';

const seed = propertySeed('test/unit/risk/policy.test.ts');

describe('the Asia/Shanghai business day', () => {
  it('changes at 16:00 UTC, which is 00:00 in Shanghai', () => {
    expect(businessDay(new Date('2026-01-05T15:59:59.999Z'))).toBe('2026-01-05');
    expect(businessDay(new Date('2026-01-05T16:00:00.000Z'))).toBe('2026-01-06');
    expect(businessDay(new Date('2026-01-05T00:00:00.000Z'))).toBe('2026-01-05');
  });

  it('resets quotas at the next 00:00 Shanghai, strictly after now', () => {
    expect(nextQuotaReset(new Date('2026-01-05T15:59:59.999Z')).toISOString()).toBe('2026-01-05T16:00:00.000Z');
    expect(nextQuotaReset(new Date('2026-01-05T16:00:00.000Z')).toISOString()).toBe('2026-01-06T16:00:00.000Z');
    expect(startOfBusinessDay(new Date('2026-01-05T16:00:00.000Z')).toISOString()).toBe('2026-01-05T16:00:00.000Z');
  });

  it('crosses month and year ends and a leap day like any other day', () => {
    expect(businessDay(new Date('2025-12-31T16:00:00Z'))).toBe('2026-01-01');
    expect(businessDay(new Date('2028-02-28T16:00:00Z'))).toBe('2028-02-29');
    expect(nextQuotaReset(new Date('2028-02-29T12:00:00Z')).toISOString()).toBe('2028-02-29T16:00:00.000Z');
  });

  it('has no daylight-saving days: every business day is 24 hours (property)', () => {
    check(
      seed,
      fc.property(fc.date({ min: new Date('2000-01-01Z'), max: new Date('2100-01-01Z'), noInvalidDate: true }), (now) => {
        const start = startOfBusinessDay(now);
        const reset = nextQuotaReset(now);
        expect(reset.getTime() - start.getTime()).toBe(DAY_MS);
        expect(start.getTime()).toBeLessThanOrEqual(now.getTime());
        expect(reset.getTime()).toBeGreaterThan(now.getTime());
        expect(reset.getUTCHours()).toBe(16);
        expect(reset.getUTCMinutes() + reset.getUTCSeconds() + reset.getUTCMilliseconds()).toBe(0);
        expect(businessDay(start)).toBe(businessDay(now));
        expect(businessDay(reset)).not.toBe(businessDay(now));
        expect(businessDay(new Date(reset.getTime() - 1))).toBe(businessDay(now));
      }),
    );
  });

  it('writes instants in Shanghai wall-clock time with +08:00', () => {
    expect(shanghaiIso(new Date('2026-01-05T16:00:00Z'))).toBe('2026-01-06T00:00:00+08:00');
    expect(shanghaiIso(new Date('2026-01-05T03:04:05.678Z'))).toBe('2026-01-05T11:04:05.678+08:00');
    expect(new Date(shanghaiIso(new Date('2026-07-01T01:02:03Z'))).toISOString()).toBe('2026-07-01T01:02:03.000Z');
  });
});

const agri = riskRules(presetPolicy('agricultural'));
const base = riskRules(BASE_POLICY);
const f = (over: Partial<RiskFeatures>): RiskFeatures => ({ ...NO_FEATURES, ...over });

describe('risk rules from the tenant policy', () => {
  it('reads the agricultural bank’s freeze rules: more than 20 queries or an unusual place freeze, for the policy’s duration', () => {
    expect(agri).toEqual({ queriesPerDayAbove: 20, queryRuleFreezes: true, unusualLocationFreezes: true, freezeMinutes: 24 * 60 });
  });

  it('falls back to the default 20-a-day frequency threshold, as a score only, when the tenant names none', () => {
    expect(base).toEqual({ queriesPerDayAbove: DEFAULT_QUERIES_PER_DAY_ABOVE, queryRuleFreezes: false, unusualLocationFreezes: false, freezeMinutes: 24 * 60 });
  });

  it('follows a tenant’s own threshold and duration', () => {
    const p = applyPolicyPatch(BASE_POLICY, { freeze: { queriesPerDayAbove: 5, durationMinutes: 30 } });
    expect(riskRules(p)).toEqual({ queriesPerDayAbove: 5, queryRuleFreezes: true, unusualLocationFreezes: false, freezeMinutes: 30 });
  });
});

describe('the anomaly score', () => {
  it('is zero with no signals', () => {
    expect(anomalyScore(NO_FEATURES, agri)).toEqual({ score: 0, contributions: {} });
    expect(anomalyScore(NO_FEATURES, base)).toEqual({ score: 0, contributions: {} });
  });

  it('counts query frequency only above the threshold: 20 queries pass, the 21st scores', () => {
    expect(anomalyScore(f({ queriesToday: 20 }), agri).score).toBe(0);
    expect(anomalyScore(f({ queriesToday: 21 }), agri)).toEqual({ score: RISK_FREEZE_SCORE, contributions: { excess_queries: RISK_FREEZE_SCORE } });
    expect(anomalyScore(f({ queriesToday: 21 }), base)).toEqual({ score: RISK_WEIGHTS.excessQueries, contributions: { excess_queries: RISK_WEIGHTS.excessQueries } });
  });

  it('freezes on a new location where the tenant says so, and only scores it elsewhere', () => {
    expect(anomalyScore(f({ newLocations: 1 }), agri).score).toBe(RISK_FREEZE_SCORE);
    expect(anomalyScore(f({ newLocations: 1 }), base).score).toBe(RISK_WEIGHTS.newLocation);
    expect(anomalyScore(f({ newLocations: 3 }), base).score).toBe(RISK_WEIGHTS.newLocation);
  });

  it('scores new devices and failed codes per occurrence, each up to its cap', () => {
    expect(anomalyScore(f({ newDevices: 1 }), base).score).toBe(RISK_WEIGHTS.newDevice);
    expect(anomalyScore(f({ newDevices: 9 }), base).score).toBe(RISK_WEIGHTS.newDeviceCap);
    expect(anomalyScore(f({ failedOtps: 2 }), base).score).toBe(2 * RISK_WEIGHTS.failedOtp);
    expect(anomalyScore(f({ failedOtps: 50 }), base).score).toBe(RISK_WEIGHTS.failedOtpCap);
  });

  it('lets a person check three cards without binding; the fourth and later distinct cards score, the eighth freezes', () => {
    for (let n = 0; n <= NOBIND_FREE_CARDS; n++) expect(anomalyScore(f({ nobindCardsProbed: n }), base).score).toBe(0);
    expect(anomalyScore(f({ nobindCardsProbed: 4 }), base).score).toBe(RISK_WEIGHTS.probedCard);
    expect(anomalyScore(f({ nobindCardsProbed: 7 }), base).score).toBeLessThan(RISK_FREEZE_SCORE);
    expect(anomalyScore(f({ nobindCardsProbed: 8 }), base).score).toBe(RISK_FREEZE_SCORE);
    expect(anomalyScore(f({ nobindCardsProbed: 50 }), base).score).toBe(RISK_SCORE_MAX);
  });

  it('does not freeze for one ordinary slip, but does for slips together', () => {
    // A new phone with five mistyped codes: suspicious, not yet frozen.
    expect(anomalyScore(f({ newDevices: 1, failedOtps: 5 }), base).score).toBe(95);
    // ... and from a country never seen before: frozen.
    const s = anomalyScore(f({ newDevices: 1, failedOtps: 5, newLocations: 1 }), base);
    expect(s.score).toBe(RISK_SCORE_MAX);
    expect(s.contributions).toEqual({ new_device: 20, failed_otps: 75, new_location: 30 });
  });

  it('stays within 0..100 and never falls when any feature grows (property over every rule set)', () => {
    const rules = fc.record<RiskRules>({
      queriesPerDayAbove: fc.integer({ min: 0, max: 50 }),
      queryRuleFreezes: fc.boolean(),
      unusualLocationFreezes: fc.boolean(),
      freezeMinutes: fc.integer({ min: 0, max: 10_080 }),
    });
    const feats = fc.record<RiskFeatures>({
      queriesToday: fc.nat(100),
      newLocations: fc.nat(5),
      newDevices: fc.nat(5),
      failedOtps: fc.nat(20),
      nobindCardsProbed: fc.nat(60),
    });
    const keys = Object.keys(NO_FEATURES) as (keyof RiskFeatures)[];
    check(
      seed,
      fc.property(rules, feats, fc.constantFrom(...keys), fc.integer({ min: 1, max: 10 }), (r, x, k, more) => {
        const a = anomalyScore(x, r).score;
        const b = anomalyScore({ ...x, [k]: x[k] + more }, r).score;
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(RISK_SCORE_MAX);
        expect(b).toBeGreaterThanOrEqual(a);
      }),
    );
  });

  it('acts on the user when one is named, else on the card, and only at the threshold', () => {
    expect(riskAction(RISK_FREEZE_SCORE - 1, { kind: 'user', id: 'u' })).toBe('none');
    expect(riskAction(RISK_FREEZE_SCORE, { kind: 'user', id: 'u' })).toBe('freeze_user');
    expect(riskAction(RISK_FREEZE_SCORE, { kind: 'card', id: 'c' })).toBe('freeze_card');
  });

  it('names the contributing features, largest first, in the freeze reason', () => {
    expect(freezeReason({ score: 100, contributions: { new_device: 20, failed_otps: 75, new_location: 30 } })).toBe(
      'anomaly score 100: failed_otps, new_location, new_device',
    );
  });
});

describe('captcha and cross-border decisions', () => {
  it('puts bound queries behind a challenge exactly where the policy asks for a slider (agricultural)', () => {
    for (const id of PRESET_IDS) {
      const p = presetPolicy(id);
      expect(captchaRequired(p, 'bound_query')).toBe(id === 'agricultural');
      expect(captchaRequired(p, 'nobind_query')).toBe(false);
    }
  });

  it('counts only the mainland as inside: HK, MO and TW are outside', () => {
    expect(isMainland('CN')).toBe(true);
    for (const c of ['HK', 'MO', 'TW', 'US', 'SG']) expect(isMainland(c)).toBe(false);
  });

  it('applies the card’s lock by the tenant’s mode, for every combination', () => {
    const modes = ['blocked', 'automatic', 'by_card_network'] as const;
    const table: Record<(typeof modes)[number], (lockOn: boolean, intl: boolean) => boolean> = {
      blocked: (lockOn) => lockOn,
      automatic: () => false,
      by_card_network: (lockOn, intl) => !intl && lockOn,
    };
    for (const mode of modes) {
      const p = applyPolicyPatch(BASE_POLICY, { crossBorder: { mode } });
      for (const lockOn of [true, false]) {
        for (const internationalNetwork of [true, false]) {
          expect(crossBorderLockOn(p, { lockOn, internationalNetwork }), `${mode} lock=${lockOn} intl=${internationalNetwork}`).toBe(
            table[mode](lockOn, internationalNetwork),
          );
        }
      }
    }
  });
});

describe('proof-of-work checks', () => {
  it('counts leading zero bits across bytes', () => {
    expect(leadingZeroBits(Uint8Array.from([0x80]))).toBe(0);
    expect(leadingZeroBits(Uint8Array.from([0x01]))).toBe(7);
    expect(leadingZeroBits(Uint8Array.from([0x00, 0x00, 0x3f]))).toBe(18);
    expect(leadingZeroBits(Uint8Array.from([0x00, 0x00]))).toBe(16);
  });

  it('accepts exactly the nonces whose hash has enough zero bits', () => {
    const prefix = 'wecard:test:';
    const zeros = (n: string) => leadingZeroBits(createHash('sha256').update(prefix + n).digest());
    for (let i = 0; i < 2_000; i++) {
      const nonce = i.toString(36);
      expect(powSolves(prefix, nonce, 6)).toBe(zeros(nonce) >= 6);
    }
  });

  it('refuses malformed solutions before hashing', () => {
    expect(powSolves('p', '', 0)).toBe(false);
    expect(powSolves('p', 'a'.repeat(33), 0)).toBe(false);
    expect(powSolves('p', 'ab-c', 0)).toBe(false);
    expect(powSolves('p', 'abc', 0)).toBe(true);
  });
});
