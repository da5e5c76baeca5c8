// The shipped policy presets: a conservative base profile and, per preset, the rules of the seed material.
import type { Policy, PolicyPatch } from './policy-schema.ts';

export const PRESET_IDS = ['agricultural', 'unlimited-realtime', 'daily-10', 'daily-20', 'citizen-card'] as const;
export type PresetId = (typeof PRESET_IDS)[number];

export function isPresetId(value: string): value is PresetId {
  return (PRESET_IDS as readonly string[]).includes(value);
}

const YUAN = 100; // fen per yuan

/**
 * What every tenant starts from before its preset: the stricter choice wherever a bank could
 * differ (cross-border blocked, no-bind off, top-ups off), and the exception SLAs and settlement
 * windows of the citizen-card seed, which are the only ones the material states.
 */
export const BASE_POLICY: Policy = {
  quotas: { boundPerUserPerDay: null, noBindPerCardPerDay: null, noBindPerWechatAccountPerDay: null },
  captcha: { boundQuery: 'none' },
  statements: { maxMonths: 12, mode: 'paged' },
  balance: { freshness: 'realtime' },
  noBind: { enabled: false, freshness: 't+1', cardKinds: ['debit'], lastTransactions: 3 },
  verification: {
    methods: ['payment_password', 'sms_otp'],
    stepUpThresholdFen: null,
    stepUpMethod: 'payment_password_last4',
    newDeviceActivation: 'sms_otp',
    faceRememberDays: 180,
  },
  // Dormancy periods for personal accounts are each bank's own rule; 6 months is the seed's
  // bank's and the product default (issue 4).
  dormant: { afterMonths: 6, reactivation: ['counter'], transferMinFen: 1 * YUAN, queryableOnline: false },
  crossBorder: { mode: 'blocked' },
  freeze: { queriesPerDayAbove: null, unusualLocation: false, durationMinutes: 24 * 60 },
  topup: {
    methods: {
      wechat_balance: { enabled: false, minFen: 0, maxFen: 0, fee: { kind: 'free' } },
      bank_card: { enabled: false, minFen: 0, maxFen: 0, fee: { kind: 'free' } },
      credit_card: { enabled: false, minFen: 0, maxFen: 0, fee: { kind: 'free' } },
    },
    realNameRequired: false,
    maxTrustedContacts: 3,
  },
  settlement: {
    instantCutoff: '16:00',
    afterCutoff: { minMinutes: 60, maxMinutes: 120 },
    holiday: { minMinutes: 120, maxMinutes: 360 },
    clearing: { mode: 'realtime', batchMaxHours: 12 },
  },
  exceptions: {
    autoReconciliationMinutes: 30,
    manualReviewMinutes: 120,
    backupChannelMinutes: 15,
    supplementWindowHours: 72,
    cardStatusSyncMinutes: 15,
    maxEmergencyContacts: 3,
  },
  cancellation: { accessCutoffWorkingDays: 7 },
};

/** Each preset as a patch over BASE_POLICY; `presetPolicy` in policy.ts resolves and validates them. */
export const PRESET_PATCHES: Record<PresetId, PolicyPatch> = {
  // The agricultural bank of seed 000: three WeChat entries with different rules.
  agricultural: {
    quotas: { boundPerUserPerDay: null, noBindPerCardPerDay: 3, noBindPerWechatAccountPerDay: 5 },
    // Bound queries are unlimited but each sits behind a slider check.
    captcha: { boundQuery: 'slider' },
    statements: { maxMonths: 12, mode: 'paged' },
    balance: { freshness: 'realtime' },
    noBind: { enabled: true, cardKinds: ['debit'], lastTransactions: 3 },
    verification: {
      methods: ['payment_password', 'sms_otp', 'face'],
      // Balances ≥ ¥500,000 ask for the last 4 digits of the trade password each time.
      stepUpThresholdFen: 500_000 * YUAN,
      stepUpMethod: 'payment_password_last4',
      newDeviceActivation: 'sms_otp',
    },
    // Sleeping after 6 months without a transaction; woken by a transfer of at least ¥1.
    dormant: { afterMonths: 6, reactivation: ['transfer_min_fen'], transferMinFen: 1 * YUAN, queryableOnline: false },
    crossBorder: { mode: 'blocked' },
    // More than 20 queries a day or a login from an unusual place freezes temporarily.
    freeze: { queriesPerDayAbove: 20, unusualLocation: true },
  },
  'unlimited-realtime': {
    quotas: { boundPerUserPerDay: null, noBindPerCardPerDay: null, noBindPerWechatAccountPerDay: null },
    statements: { maxMonths: 6, mode: 'paged' },
    balance: { freshness: 'realtime' },
    noBind: { enabled: true },
    dormant: { reactivation: ['counter', 'online'] },
    crossBorder: { mode: 'automatic' },
  },
  'daily-10': {
    quotas: { boundPerUserPerDay: 10, noBindPerCardPerDay: 10, noBindPerWechatAccountPerDay: 10 },
    statements: { maxMonths: 12, mode: 'paged' },
    balance: { freshness: 30 },
    noBind: { enabled: true },
    dormant: { reactivation: ['counter'], queryableOnline: true },
    crossBorder: { mode: 'by_card_network' },
  },
  'daily-20': {
    quotas: { boundPerUserPerDay: 20, noBindPerCardPerDay: 20, noBindPerWechatAccountPerDay: 20 },
    // "Custom range": any from/to the cardholder picks, within two years.
    statements: { maxMonths: 24, mode: 'custom_range' },
    balance: { freshness: 60 },
    noBind: { enabled: true },
    dormant: { reactivation: ['one_cent_verification'] },
    crossBorder: { mode: 'blocked' },
  },
  // The citizen-card operator of seed 002.
  'citizen-card': {
    statements: { maxMonths: 12, mode: 'paged' },
    balance: { freshness: 'realtime' },
    noBind: { enabled: false, cardKinds: ['citizen'] },
    // Stored-value cards have no dormancy rule of their own.
    dormant: { afterMonths: null, reactivation: [], queryableOnline: true },
    topup: {
      methods: {
        // 零钱 ¥50–2,000, free.
        wechat_balance: { enabled: true, minFen: 50 * YUAN, maxFen: 2_000 * YUAN, fee: { kind: 'free' } },
        // Bank card ¥100–5,000 "at the bank's rate": 0.1 %, at most ¥5, until the operator sets its bank's figure.
        bank_card: { enabled: true, minFen: 100 * YUAN, maxFen: 5_000 * YUAN, fee: { kind: 'rate', basisPoints: 10, minFen: 0, maxFen: 5 * YUAN } },
        // Credit card ¥300–1,000. PBOC 〔2012〕第12号 (支付机构预付卡业务管理办法) forbids funding prepaid cards
        // with a credit card, so an operator that is a payment institution issuing prepaid cards must
        // switch this off; the seed's operator offers it, hence on in the preset.
        credit_card: { enabled: true, minFen: 300 * YUAN, maxFen: 1_000 * YUAN, fee: { kind: 'rate', basisPoints: 60, minFen: 0, maxFen: null } },
      },
      realNameRequired: false,
      maxTrustedContacts: 3,
    },
    // Instant on working days before 16:00, 1–2 h after, 2–6 h on holidays; real-time clearing
    // (some cities clear only in an end-of-day batch of up to 12 h: switch `clearing.mode`).
    settlement: {
      instantCutoff: '16:00',
      afterCutoff: { minMinutes: 60, maxMinutes: 120 },
      holiday: { minMinutes: 120, maxMinutes: 360 },
      clearing: { mode: 'realtime', batchMaxHours: 12 },
    },
  },
};
