// The tenant policy profile as data: its TypeBox schema (validated on every write) and TS type.
import { Type, type Static } from 'typebox';

/**
 * Fen amounts inside a policy are JSON integers (the profile is stored as jsonb and edited in the
 * admin console); `topupLimits` and friends hand them to money code as `bigint`.
 */
export const MAX_POLICY_FEN = 100_000_000_000; // ¥1,000,000,000: far above any rule, still a safe integer
const Fen = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_POLICY_FEN, description });
const MAX_DAILY_QUOTA = 1_000_000;
/** null = unlimited. */
const Quota = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: MAX_DAILY_QUOTA }), Type.Null()], { description });
const Minutes = (max: number, description: string) => Type.Integer({ minimum: 0, maximum: max, description });

export const TENANT_KINDS = ['bank', 'citizen_card', 'social_security'] as const;
export type TenantKind = (typeof TENANT_KINDS)[number];

export const VERIFICATION_METHODS = ['payment_password', 'sms_otp', 'face'] as const;
export type VerificationMethod = (typeof VERIFICATION_METHODS)[number];

export const REACTIVATION_METHODS = ['transfer_min_fen', 'counter', 'online', 'one_cent_verification'] as const;
export type ReactivationMethod = (typeof REACTIVATION_METHODS)[number];

export const TOPUP_METHODS = ['wechat_balance', 'bank_card', 'credit_card'] as const;
export type TopupMethod = (typeof TOPUP_METHODS)[number];

export const CARD_KINDS = ['debit', 'credit', 'citizen'] as const;
export type CardKind = (typeof CARD_KINDS)[number];

const literals = <const T extends string[]>(values: readonly [...T], description?: string) =>
  Type.Enum<T>(values, description ? { description } : {});

const FeeRule = Type.Union([
  Type.Object({ kind: Type.Literal('free') }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('rate'),
      /** 1 bp = 0.01 %. */
      basisPoints: Type.Integer({ minimum: 0, maximum: 10_000 }),
      minFen: Fen('smallest fee charged'),
      maxFen: Type.Union([Fen('largest fee charged'), Type.Null()]),
    },
    { additionalProperties: false },
  ),
]);
export type FeeRule = Static<typeof FeeRule>;

const TopupMethodRule = Type.Object(
  {
    enabled: Type.Boolean(),
    minFen: Fen('smallest top-up amount'),
    maxFen: Fen('largest top-up amount'),
    fee: FeeRule,
  },
  { additionalProperties: false },
);
export type TopupMethodRule = Static<typeof TopupMethodRule>;

const DelayWindow = (max: number) =>
  Type.Object({ minMinutes: Minutes(max, 'earliest arrival'), maxMinutes: Minutes(max, 'latest arrival') }, { additionalProperties: false });

export const PolicySchema = Type.Object(
  {
    quotas: Type.Object(
      {
        boundPerUserPerDay: Quota('bound-card queries per user per day'),
        noBindPerCardPerDay: Quota('no-bind queries per card number per day'),
        noBindPerWechatAccountPerDay: Quota('no-bind queries per WeChat account per day'),
      },
      { additionalProperties: false },
    ),
    captcha: Type.Object(
      { boundQuery: literals(['none', 'slider'] as const, 'challenge before a bound-card query') },
      { additionalProperties: false },
    ),
    statements: Type.Object(
      {
        maxMonths: Type.Integer({ minimum: 1, maximum: 120, description: 'how far back statements reach' }),
        mode: literals(['paged', 'custom_range'] as const, 'paged: fixed pages back in time; custom_range: any from/to inside maxMonths'),
      },
      { additionalProperties: false },
    ),
    balance: Type.Object(
      {
        /** 'realtime' or the largest age in seconds of a cached balance. */
        freshness: Type.Union([Type.Literal('realtime'), Type.Integer({ minimum: 1, maximum: 86_400 })]),
      },
      { additionalProperties: false },
    ),
    noBind: Type.Object(
      {
        enabled: Type.Boolean(),
        /** No-bind answers carry T+1 data (DOMAIN.md): the balance at the end of the previous business day. */
        freshness: Type.Literal('t+1'),
        cardKinds: Type.Array(literals(CARD_KINDS), { uniqueItems: true, maxItems: CARD_KINDS.length }),
        lastTransactions: Type.Integer({ minimum: 0, maximum: 3 }),
      },
      { additionalProperties: false },
    ),
    verification: Type.Object(
      {
        methods: Type.Array(literals(VERIFICATION_METHODS), { uniqueItems: true, minItems: 1, maxItems: VERIFICATION_METHODS.length }),
        /** Balances at or above this need a step-up every time; null = never. */
        stepUpThresholdFen: Type.Union([Fen('step-up threshold'), Type.Null()]),
        stepUpMethod: literals(['payment_password_last4', 'sms_otp', 'face'] as const),
        newDeviceActivation: literals(['sms_otp', 'none'] as const),
        /** A passed face check is remembered per device for this long. */
        faceRememberDays: Type.Integer({ minimum: 0, maximum: 365 }),
      },
      { additionalProperties: false },
    ),
    dormant: Type.Object(
      {
        /** Months without a customer transaction after which the account sleeps; null = never. */
        afterMonths: Type.Union([Type.Integer({ minimum: 1, maximum: 120 }), Type.Null()]),
        reactivation: Type.Array(literals(REACTIVATION_METHODS), { uniqueItems: true, maxItems: REACTIVATION_METHODS.length }),
        /** Smallest incoming transfer that wakes the account when `transfer_min_fen` is offered. */
        transferMinFen: Fen('smallest reactivating transfer'),
        queryableOnline: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    crossBorder: Type.Object(
      {
        /**
         * blocked: queries from outside the mainland are refused unless the cardholder lifted the lock;
         * automatic: allowed; by_card_network: allowed for cards on an international network, else as blocked.
         */
        mode: literals(['blocked', 'automatic', 'by_card_network'] as const),
      },
      { additionalProperties: false },
    ),
    freeze: Type.Object(
      {
        /** More queries than this in one day freeze the user temporarily; null = no such rule. */
        queriesPerDayAbove: Quota('query count that triggers a temporary freeze'),
        unusualLocation: Type.Boolean({ description: 'a query from an unusual place freezes too' }),
        durationMinutes: Minutes(7 * 24 * 60, 'how long a temporary freeze lasts'),
      },
      { additionalProperties: false },
    ),
    topup: Type.Object(
      {
        methods: Type.Object(
          { wechat_balance: TopupMethodRule, bank_card: TopupMethodRule, credit_card: TopupMethodRule },
          { additionalProperties: false },
        ),
        realNameRequired: Type.Boolean(),
        maxTrustedContacts: Type.Integer({ minimum: 0, maximum: 10 }),
      },
      { additionalProperties: false },
    ),
    settlement: Type.Object(
      {
        /** Asia/Shanghai wall-clock time on working days before which settlement is instant. */
        instantCutoff: Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
        afterCutoff: DelayWindow(24 * 60),
        holiday: DelayWindow(72 * 60),
        clearing: Type.Object(
          {
            mode: literals(['realtime', 'end_of_day'] as const),
            batchMaxHours: Type.Integer({ minimum: 1, maximum: 48 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    exceptions: Type.Object(
      {
        autoReconciliationMinutes: Minutes(24 * 60, 'automatic fix of a payment failure or double debit'),
        manualReviewMinutes: Minutes(7 * 24 * 60, 'manual review SLA for stuck funds'),
        backupChannelMinutes: Minutes(24 * 60, 'switch to the backup channel after an outage'),
        supplementWindowHours: Type.Integer({ minimum: 1, maximum: 30 * 24, description: '补登 window for an unclaimed load' }),
        cardStatusSyncMinutes: Minutes(24 * 60, 'full card-status sync period'),
        maxEmergencyContacts: Type.Integer({ minimum: 0, maximum: 10 }),
      },
      { additionalProperties: false },
    ),
    cancellation: Type.Object(
      { accessCutoffWorkingDays: Type.Integer({ minimum: 0, maximum: 30 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Policy = Static<typeof PolicySchema>;

/** A partial policy: any subtree may be left out; arrays and scalars replace whole. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
export type PolicyPatch = DeepPartial<Policy>;
