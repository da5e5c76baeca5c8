// Row types of the tables of migration 0014_risk: daily quotas, risk signals, subjects, usual locations, events, freezes, captchas.
import type { ColumnType, Generated } from 'kysely';

/** What a quota counts: bound-card queries per user, no-bind queries per card and per WeChat account. */
export type QuotaKindColumn = 'bound_query' | 'nobind_card' | 'nobind_account';

/** One counter per (tenant, kind, key, Asia/Shanghai business day); `key` is opaque, never a card number. */
export interface RiskQuotaRow {
  tenant_id: string;
  kind: QuotaKindColumn;
  key: string;
  /** YYYY-MM-DD in Asia/Shanghai. */
  day: string;
  used: number;
  updated_at: Date;
}

export type RiskSignalKindColumn = 'query' | 'new_location' | 'new_device' | 'otp_failed' | 'nobind_card_probe';

/** One observed signal; kept RISK_SIGNAL_RETENTION_DAYS. The IP itself is never stored, only its country. */
export interface RiskSignalRow {
  id: Generated<bigint>;
  tenant_id: string;
  /** The cardholder (or, in no-bind mode, the WeChat account's opaque key). */
  user_id: string | null;
  /** A card token, or for no-bind probes the card's blind index; never a clear number. */
  card_id: string | null;
  kind: RiskSignalKindColumn;
  country: string | null;
  detail: ColumnType<unknown, string | null, string | null> | null;
  created_at: Date;
}

export type RiskSubjectKind = 'user' | 'card';

/** Per subject: the row whose lock serialises scoring, and the baseline after which signals count. */
export interface RiskSubjectRow {
  tenant_id: string;
  subject_kind: RiskSubjectKind;
  subject_id: string;
  /** The last signal id acted on by a freeze: only later signals count toward the next one. */
  baseline_signal_id: bigint | null;
  last_signal_at: Date;
}

/** Countries a user has queried from: the "usual" locations a new one is compared with. */
export interface RiskLocationRow {
  tenant_id: string;
  user_id: string;
  country: string;
  first_seen_at: ColumnType<Date, Date, never>;
  last_seen_at: Date;
}

export type RiskAction = 'freeze_user' | 'freeze_card';

/** A risk event for the operator console's review queue. */
export interface RiskEventRow {
  id: string;
  tenant_id: string;
  subject_kind: RiskSubjectKind;
  subject_id: string;
  kind: 'anomaly';
  score: number;
  features: ColumnType<unknown, string, never>;
  action: RiskAction;
  status: 'open' | 'reviewed';
  created_at: ColumnType<Date, Date, never>;
  reviewed_at: Date | null;
  reviewed_by: string | null;
}

/** A temporary freeze of a user or a card; lifted early by an operator or simply expiring. */
export interface RiskFreezeRow {
  id: string;
  tenant_id: string;
  subject_kind: RiskSubjectKind;
  subject_id: string;
  reason: string;
  event_id: string | null;
  starts_at: ColumnType<Date, Date, never>;
  until: Date;
  lifted_at: Date | null;
  lifted_by: string | null;
}

/** A proof-of-work challenge: single use (used_at), expiring, bound to one subject. */
export interface RiskCaptchaRow {
  id: string;
  tenant_id: string;
  subject: string;
  prefix: string;
  difficulty_bits: number;
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
  used_at: Date | null;
}

export interface RiskTables {
  risk_quotas: RiskQuotaRow;
  risk_signals: RiskSignalRow;
  risk_subjects: RiskSubjectRow;
  risk_locations: RiskLocationRow;
  risk_events: RiskEventRow;
  risk_freezes: RiskFreezeRow;
  risk_captchas: RiskCaptchaRow;
}
