// Row types of the tables of migration 0021_channels: alert preferences, the alert scan cursor, sent alerts, channel settings, city-services sessions, sandbox social-security accounts.
import type { ColumnType } from 'kysely';

/** A cardholder's balance-change alert choice; no row: alerts on. */
export interface ChannelsAlertPrefRow {
  tenant_id: string;
  user_id: string;
  alerts_enabled: boolean;
  updated_at: Date;
}

/** The alert scanner's position in ledger_postings.seq. */
export interface ChannelsAlertCursorRow {
  id: string;
  last_seq: bigint;
  updated_at: Date;
}

/** One alert per (bound card, transfer): once-only. */
export interface ChannelsAlertRow {
  card_id: string;
  transfer_id: string;
  tenant_id: string;
  user_id: string;
  status: 'queued' | 'sent' | 'skipped' | 'failed';
  reason: string | null;
  msgid: string | null;
  created_at: ColumnType<Date, Date, never>;
  finished_at: Date | null;
}

export interface ChannelsSettingsRow {
  tenant_id: string;
  /** The OA template of balance-change alerts; null: DEFAULT_ALERT_TEMPLATE_ID. */
  alert_template_id: string | null;
  /** The social-security provider tenant whose accounts the city-services view shows. */
  social_security_tenant_id: string | null;
  updated_at: Date;
}

export interface ChannelsCitySessionRow {
  id: string;
  tenant_id: string;
  user_id: string;
  status: 'authorised' | 'verified' | 'failed';
  card_id: string | null;
  id_type: string | null;
  /** SM4-encrypted ID number of the verified person (never in clear). */
  id_number_enc: string | null;
  attempts: number;
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
  verified_at: Date | null;
}

/** Sandbox only: a provider tenant's social-security or housing-fund account of a person (by ID number blind index). */
export interface SandboxSocialAccountRow {
  provider_tenant_id: string;
  id_number_bidx: string;
  kind: 'pension' | 'medical' | 'housing_fund';
  account_masked: string;
  balance_fen: bigint;
  monthly_fen: bigint;
  paid_through: string;
  status: 'active' | 'suspended' | 'closed';
  updated_at: Date;
}

export type ChannelsTables = {
  channels_alert_prefs: ChannelsAlertPrefRow;
  channels_alert_cursor: ChannelsAlertCursorRow;
  channels_alerts: ChannelsAlertRow;
  channels_settings: ChannelsSettingsRow;
  channels_city_sessions: ChannelsCitySessionRow;
  sandbox_social_accounts: SandboxSocialAccountRow;
};
