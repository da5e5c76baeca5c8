// Row types of the tables of migration 0008_wecom: the WeCom callback de-duplication record (owned by src/wechat/wecom).
import type { ColumnType } from 'kysely';

/** One received WeCom message or event: written in the transaction that runs its handler, so the handler runs once. */
export interface WecomEventRow {
  tenant_id: string;
  /** `msgid:<MsgId>` for messages; `sha256:<hex>` of the decrypted fields for events (WeCom retries send the same fields). */
  dedupe_key: string;
  msg_type: string;
  event: string | null;
  change_type: string | null;
  /** The employee (agent) userid of a change_external_contact event. */
  user_id: string | null;
  /** The customer's external userid (wm…/wo…). */
  external_user_id: string | null;
  /** The contact way's opaque state token. */
  state: string | null;
  /** Single use, valid 20 s after the event: kept so the welcome message can still be sent from a job. */
  welcome_code: string | null;
  create_time: ColumnType<Date, Date, never>;
  received_at: ColumnType<Date, Date, never>;
}

export interface WecomTables {
  wecom_events: WecomEventRow;
}
