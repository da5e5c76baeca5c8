// Row types of the tables of migration 0020_contact: bill refs, routing settings, agents and their tokens, contact requests, CS contexts, emergency service ids, funnel journeys.
import type { ColumnType } from 'kysely';

/** jsonb: written as JSON text, read back parsed (PostgreSQL) or as text (either is accepted by the readers). */
type Json = ColumnType<unknown, string, string>;

/** What a bill ref (an HMAC of the bill) maps to. */
export interface ContactBillRefRow {
  ref: string;
  bill_key: string;
  tenant_id: string;
  user_id: string;
  kind: string;
  source_id: string;
  created_at: ColumnType<Date, Date, never>;
}

/** Per-tenant routing settings; a tenant without a row uses the defaults of policy.ts. */
export interface ContactSettingsRow {
  tenant_id: string;
  /** The weekly opening hours (Asia/Shanghai) and closed dates: a `Schedule` (policy.ts). */
  schedule: Json;
  /** Average minutes an agent spends on one conversation: the expected wait of the human queue. */
  avg_handle_minutes: number;
  /** The privacy notice version the bill-sharing consent is recorded under; null: the module's default. */
  notice_version: string | null;
  updated_at: Date;
}

/** A customer-service member (a WeCom userid of the tenant's corp) who can be routed bills. */
export interface ContactAgentRow {
  tenant_id: string;
  /** The WeCom member userid (add_contact_way `user`, the event's `UserID`). */
  user_id: string;
  /** Staff name; shown to cardholders masked only. */
  display_name: string;
  title: string;
  /** Bill kinds this agent takes (JSON array); empty: every kind. */
  bill_kinds: Json;
  /** Conversations in progress at once before the agent counts as busy. */
  capacity: number;
  /** Higher first among equally loaded agents. */
  priority: number;
  active: boolean;
  last_assigned_at: Date | null;
  created_at: ColumnType<Date, Date, never>;
  updated_at: Date;
}

/** A per-tenant bearer token for the agent API (stored as SHA-256, shown once). */
export interface ContactAgentTokenRow {
  id: string;
  tenant_id: string;
  token_hash: string;
  label: string;
  created_at: ColumnType<Date, Date, never>;
  revoked_at: Date | null;
}

export type ContactRequestStatus = 'creating' | 'pending' | 'added' | 'expired' | 'queued' | 'emergency' | 'failed';

/** One "contact customer service" from one bill: the state token, the contact way, and what happened. */
export interface ContactRequestRow {
  id: string;
  tenant_id: string;
  user_id: string;
  bill_kind: string;
  /** HMAC of (tenant, user, kind, source id): joins the funnel journey without storing the bill twice. */
  bill_key: string;
  source_id: string;
  status: ContactRequestStatus;
  /** The contact way's random state; null once used or purged. */
  state: string | null;
  agent_user_id: string | null;
  config_id: string | null;
  qr_code: string | null;
  /** The masked bill summary (temporary data): purged with an unused state, moved to the context on add. */
  snapshot: Json | null;
  watermark: string | null;
  created_at: ColumnType<Date, Date, never>;
  /** QR code, queue entry or emergency: live until then. */
  expires_at: Date;
  qr_shown_at: Date | null;
  added_at: Date | null;
  external_user_id: string | null;
  welcome_sent_at: Date | null;
  remarked_at: Date | null;
  way_deleted_at: Date | null;
  emergency_id: string | null;
  closed_at: Date | null;
}

/** What the agent sees for 72 hours after the customer added them from a bill. */
export interface ContactContextRow {
  id: string;
  tenant_id: string;
  request_id: string;
  external_user_id: string;
  agent_user_id: string;
  snapshot: Json;
  opened_at: ColumnType<Date, Date, never>;
  expires_at: Date;
  first_message_at: Date | null;
}

/** A service id the user quotes when WeCom is unreachable; resolved by an agent after a second verification. */
export interface ContactEmergencyRow {
  service_id: string;
  tenant_id: string;
  user_id: string;
  request_id: string;
  snapshot: Json;
  /** Blind index of (service id, last 4 of the bill's card); null when the bill has no card. */
  last4_check: string | null;
  /** Blind index of (service id, the one-time code shown in the user's app); null until the user asks for one. */
  code_check: string | null;
  code_expires_at: Date | null;
  attempts: number;
  locked_at: Date | null;
  resolved_at: Date | null;
  created_at: ColumnType<Date, Date, never>;
  expires_at: Date;
}

/** One user's way from one bill towards an agent: the first time each funnel step was reached, and the segments. */
export interface ContactJourneyRow {
  tenant_id: string;
  user_id: string;
  bill_key: string;
  bill_kind: string;
  new_user: boolean;
  elderly: boolean;
  /** null when the balances could not be read. */
  high_value: boolean | null;
  viewed_at: Date;
  tapped_at: Date | null;
  qr_shown_at: Date | null;
  added_at: Date | null;
  first_message_at: Date | null;
}

export interface ContactTables {
  contact_bill_refs: ContactBillRefRow;
  contact_settings: ContactSettingsRow;
  contact_agents: ContactAgentRow;
  contact_agent_tokens: ContactAgentTokenRow;
  contact_requests: ContactRequestRow;
  contact_contexts: ContactContextRow;
  contact_emergencies: ContactEmergencyRow;
  contact_journeys: ContactJourneyRow;
}
