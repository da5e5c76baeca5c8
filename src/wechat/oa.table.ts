// Row types of migration 0006_oa: Official Account message de-duplication and the passive reply kept for WeChat's retries.
import type { ColumnType } from 'kysely';

/** What became of a message: being handled, answered passively, answered later by a customer-service message, or failed. */
export type OaMessageState = 'processing' | 'replied' | 'deferred' | 'failed';

export interface OaMessageRow {
  tenant_id: string;
  /** `m:<MsgId>` for messages, `e:<FromUserName>:<CreateTime>:<Event>:<hash of EventKey>` for events (WECHAT.md §1). */
  dedup_key: string;
  state: OaMessageState;
  /** The passive reply's plaintext (XML, or JSON for JSON-format pushes), re-sent on a retry; null when the answer is `success`. */
  reply: string | null;
  received_at: ColumnType<Date, Date, never>;
  finished_at: Date | null;
}

export interface OaTables {
  oa_messages: OaMessageRow;
}
