// Pure risk rules: the Asia/Shanghai business day, anomaly scoring, captcha and cross-border decisions, proof-of-work checks.
import { createHash } from 'node:crypto';
import type { Policy } from '../tenants/policy-schema.ts';

// ---------------------------------------------------------------------------------------------
// The business day

/**
 * Asia/Shanghai is UTC+8 all year: China has observed no daylight saving time since 1991, so the
 * day boundary is a fixed offset (no time-zone database needed, and none can drift).
 */
export const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** The Asia/Shanghai calendar date of an instant, as YYYY-MM-DD: the key quotas are counted under. */
export function businessDay(now: Date): string {
  return new Date(now.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** 00:00 Asia/Shanghai of the instant's business day. */
export function startOfBusinessDay(now: Date): Date {
  const local = now.getTime() + SHANGHAI_OFFSET_MS;
  return new Date(local - (((local % DAY_MS) + DAY_MS) % DAY_MS) - SHANGHAI_OFFSET_MS);
}

/** The next 00:00 Asia/Shanghai strictly after the instant: when today's quotas reset. */
export function nextQuotaReset(now: Date): Date {
  return new Date(startOfBusinessDay(now).getTime() + DAY_MS);
}

/** An instant as RFC 3339 in Asia/Shanghai wall-clock time (`2026-01-06T00:00:00+08:00`), for answers. */
export function shanghaiIso(at: Date): string {
  const local = new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString();
  const ms = local.slice(19, 23);
  return `${local.slice(0, 19)}${ms === '.000' ? '' : ms}+08:00`;
}

// ---------------------------------------------------------------------------------------------
// Anomaly score

/** What the score is computed from: counts of the subject's signals since its baseline. */
export interface RiskFeatures {
  /** Queries since 00:00 Asia/Shanghai. */
  queriesToday: number;
  /** Queries from a country or region the user had not queried from before (window: RISK_WINDOW_MS). */
  newLocations: number;
  newDevices: number;
  failedOtps: number;
  /** Distinct card numbers tried in no-bind mode. */
  nobindCardsProbed: number;
}

export const NO_FEATURES: RiskFeatures = { queriesToday: 0, newLocations: 0, newDevices: 0, failedOtps: 0, nobindCardsProbed: 0 };

/** Signals other than today's queries count over this rolling window. */
export const RISK_WINDOW_MS = DAY_MS;

/** The score (0–RISK_SCORE_MAX) at which the subject is frozen and a risk event recorded. */
export const RISK_FREEZE_SCORE = 100;
export const RISK_SCORE_MAX = 100;

/**
 * "More than 20 queries a day" (DOMAIN.md, another bank's rule): the frequency threshold when the
 * tenant names none. A tenant that names one (policy.freeze.queriesPerDayAbove) freezes on it
 * outright; otherwise excess queries only add RISK_WEIGHTS.excessQueries.
 */
export const DEFAULT_QUERIES_PER_DAY_ABOVE = 20;

/** A person checks their own one to three cards; distinct cards beyond this look like enumeration. */
export const NOBIND_FREE_CARDS = 3;

/**
 * Points per feature. Chosen so that no single ordinary slip freezes anyone (one new phone, a few
 * mistyped codes), while combinations do: a new device from a new country with failed codes, or
 * enumeration of 8 card numbers (5 beyond the free 3).
 */
export const RISK_WEIGHTS = {
  excessQueries: 40,
  newLocation: 30,
  newDevice: 20,
  newDeviceCap: 40,
  failedOtp: 15,
  failedOtpCap: 75,
  probedCard: 20,
} as const;

/** The tenant-tunable part of scoring, read from the policy's `freeze` section. */
export interface RiskRules {
  queriesPerDayAbove: number;
  /** True when the tenant's policy itself freezes above queriesPerDayAbove. */
  queryRuleFreezes: boolean;
  /** True when the tenant freezes on a query from an unusual place. */
  unusualLocationFreezes: boolean;
  freezeMinutes: number;
}

export function riskRules(policy: Policy): RiskRules {
  const above = policy.freeze.queriesPerDayAbove;
  return {
    queriesPerDayAbove: above ?? DEFAULT_QUERIES_PER_DAY_ABOVE,
    queryRuleFreezes: above !== null,
    unusualLocationFreezes: policy.freeze.unusualLocation,
    freezeMinutes: policy.freeze.durationMinutes,
  };
}

export type RiskFeatureName = 'excess_queries' | 'new_location' | 'new_device' | 'failed_otps' | 'nobind_cards_probed';

export interface RiskScore {
  score: number;
  /** Points per feature that contributed (only non-zero ones), for the risk event and the freeze reason. */
  contributions: Partial<Record<RiskFeatureName, number>>;
}

/** The anomaly score of a subject's features under the tenant's rules. */
export function anomalyScore(f: RiskFeatures, rules: RiskRules): RiskScore {
  const c: Partial<Record<RiskFeatureName, number>> = {};
  if (f.queriesToday > rules.queriesPerDayAbove) c.excess_queries = rules.queryRuleFreezes ? RISK_FREEZE_SCORE : RISK_WEIGHTS.excessQueries;
  if (f.newLocations > 0) c.new_location = rules.unusualLocationFreezes ? RISK_FREEZE_SCORE : RISK_WEIGHTS.newLocation;
  if (f.newDevices > 0) c.new_device = Math.min(f.newDevices * RISK_WEIGHTS.newDevice, RISK_WEIGHTS.newDeviceCap);
  if (f.failedOtps > 0) c.failed_otps = Math.min(f.failedOtps * RISK_WEIGHTS.failedOtp, RISK_WEIGHTS.failedOtpCap);
  const extraCards = f.nobindCardsProbed - NOBIND_FREE_CARDS;
  if (extraCards > 0) c.nobind_cards_probed = extraCards * RISK_WEIGHTS.probedCard;
  const sum = Object.values(c).reduce((a, b) => a + b, 0);
  return { score: Math.min(sum, RISK_SCORE_MAX), contributions: c };
}

export type RiskSubject = { kind: 'user' | 'card'; id: string };

/** Who a score acts on: the user when the signal names one (the person acting), else the card. */
export function riskAction(score: number, subject: RiskSubject): 'none' | 'freeze_user' | 'freeze_card' {
  if (score < RISK_FREEZE_SCORE) return 'none';
  return subject.kind === 'user' ? 'freeze_user' : 'freeze_card';
}

/** The human-readable reason stored on a freeze: the features that contributed, largest first. */
export function freezeReason(s: RiskScore): string {
  const names = Object.entries(s.contributions)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k]) => k);
  return `anomaly score ${s.score}: ${names.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Captcha and cross-border decisions

export type QueryUse = 'bound_query' | 'nobind_query';

/**
 * Whether a query needs a solved challenge first. The agricultural preset puts every bound query
 * behind a slider check (DOMAIN.md: "bound queries unlimited but behind a slider check"); no-bind
 * queries are already behind an SMS OTP and the policy has no captcha rule for them.
 */
export function captchaRequired(policy: Policy, use: QueryUse): boolean {
  return use === 'bound_query' && policy.captcha.boundQuery === 'slider';
}

/**
 * Only the mainland counts as inside: HK, MO and TW have their own codes in the GeoIP database
 * and count as outside (DOMAIN.md: overseas queries need the cross-border lock switched off).
 */
export function isMainland(country: string): boolean {
  return country === 'CN';
}

/**
 * Whether the cross-border lock applies to a card under the tenant's mode: `automatic` never
 * locks; `blocked` follows the card's lock (on unless the cardholder lifted it);
 * `by_card_network` lets cards on an international network through and treats others as blocked.
 */
export function crossBorderLockOn(policy: Policy, card: { lockOn: boolean; internationalNetwork: boolean }): boolean {
  switch (policy.crossBorder.mode) {
    case 'automatic':
      return false;
    case 'blocked':
      return card.lockOn;
    case 'by_card_network':
      return card.internationalNetwork ? false : card.lockOn;
  }
}

// ---------------------------------------------------------------------------------------------
// Proof of work

/** Leading zero bits of a byte string. */
export function leadingZeroBits(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) {
    if (b === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(b) - 24;
  }
  return n;
}

/** A solution is a short alphanumeric nonce; anything else is refused before hashing. */
export const POW_SOLUTION_PATTERN = /^[0-9A-Za-z]{1,32}$/;

/** True when sha256(prefix + solution) starts with `difficultyBits` zero bits. */
export function powSolves(prefix: string, solution: string, difficultyBits: number): boolean {
  if (!POW_SOLUTION_PATTERN.test(solution)) return false;
  return leadingZeroBits(createHash('sha256').update(prefix + solution).digest()) >= difficultyBits;
}
