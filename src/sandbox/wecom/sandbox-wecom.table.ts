// Row types of the tables of migration 0011_sandbox_wecom: the sandbox WeCom platform's contact ways, contacts, welcome codes and event deliveries.
import type { ColumnType, Generated } from 'kysely';

export interface SandboxWecomContactWayRow {
  /** 32 hex characters, as WeCom's config_id. */
  config_id: string;
  tenant_id: string;
  /** 1 single member, 2 several. */
  type: number;
  /** 1 mini-program button (no QR code), 2 QR code. */
  scene: number;
  /** The members (agent userids) the contact way adds, as a JSON array. */
  user_ids: ColumnType<string[], string, string>;
  remark: string | null;
  state: string | null;
  skip_verify: boolean;
  created_at: ColumnType<Date, Date, never>;
  deleted_at: Date | null;
}

export interface SandboxWecomExternalContactRow {
  /** `wm…`: the simulated customer's id in the corp. */
  external_user_id: string;
  tenant_id: string;
  /** The member the customer added. */
  user_id: string;
  /** The simulated customer's WeChat nickname (fictitious). */
  name: string;
  config_id: string | null;
  state: string | null;
  added_at: ColumnType<Date, Date, never>;
  remark: string | null;
  description: string | null;
  remarked_at: Date | null;
}

export interface SandboxWecomWelcomeCodeRow {
  code: string;
  tenant_id: string;
  external_user_id: string;
  user_id: string;
  issued_at: ColumnType<Date, Date, never>;
  /** issued_at + 20 s: WeCom accepts the code only that long after the event. */
  expires_at: ColumnType<Date, Date, never>;
  /** Set by the one send_welcome_msg that used it. */
  used_at: Date | null;
  content: string | null;
}

export interface SandboxWecomEventDeliveryRow {
  id: string;
  tenant_id: string;
  message: string;
  created_at: ColumnType<Date, Date, never>;
  attempts: Generated<number>;
  delivered_at: Date | null;
  last_status: number | null;
  last_error: string | null;
}

export interface SandboxWecomTables {
  sandbox_wecom_contact_ways: SandboxWecomContactWayRow;
  sandbox_wecom_external_contacts: SandboxWecomExternalContactRow;
  sandbox_wecom_welcome_codes: SandboxWecomWelcomeCodeRow;
  sandbox_wecom_event_deliveries: SandboxWecomEventDeliveryRow;
}
