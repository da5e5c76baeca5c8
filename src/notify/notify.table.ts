// Row types of the tables of migration 0019_interchange: card-system feed state, partner webhooks and deliveries, signed batch exports.
import type { ColumnType } from 'kysely';
import type { SandboxCardsysTables } from '../sandbox/cardsys/sandbox-cardsys.table.ts';

type Created = ColumnType<Date, Date, never>;
/** jsonb: written as a JSON string, read back as a value. */
type Json<T> = ColumnType<T, string, string>;

export interface CardsysLinkRow {
  tenant_id: string;
  created_at: Created;
  disabled_at: Date | null;
  last_sync_requested_at: Date | null;
  /** When the last complete snapshot finished arriving (wecard's clock). */
  last_full_sync_at: Date | null;
  last_snapshot_id: string | null;
  /** Cards whose status the last snapshot corrected: events the feed had missed. */
  last_snapshot_drifted: number | null;
  /** Set while the last full sync is older than CARD_SYNC_STALE_AFTER_MS; cleared by the next one. */
  drift_flagged_at: Date | null;
}

export interface CardsysKeyRow {
  tenant_id: string;
  kid: string;
  /** FieldCrypto envelopes of the hex SM4 key (16 bytes) and HMAC-SM3 key (32 bytes). */
  enc_key_enc: string;
  mac_key_enc: string;
  created_at: Created;
  retired_at: Date | null;
}

export type CardsysEventOutcome = 'applied' | 'unchanged' | 'stale' | 'superseded' | 'unknown_card' | 'rejected';

export interface CardsysEventRow {
  tenant_id: string;
  event_id: string;
  received_at: Date;
  outcome: CardsysEventOutcome;
}

export interface CardsysCardRow {
  core_card_id: string;
  tenant_id: string;
  last_seq: ColumnType<bigint, bigint | number, bigint | number>;
  last_status: string;
  last_changed_at: Date;
  updated_at: Date;
}

export interface CardsysSyncRow {
  tenant_id: string;
  snapshot_id: string;
  request_id: string | null;
  parts: number;
  parts_done: ColumnType<number, number | undefined, number>;
  cards: ColumnType<number, number | undefined, number>;
  applied: ColumnType<number, number | undefined, number>;
  drifted: ColumnType<number, number | undefined, number>;
  as_of: Date;
  started_at: Date;
  completed_at: Date | null;
}

export interface CardsysSyncPartRow {
  tenant_id: string;
  snapshot_id: string;
  part: number;
}

export interface WebhookEndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  description: string;
  event_types: Json<string[]>;
  /** When set, only events about these ledger accounts are sent. */
  account_ids: ColumnType<string[] | null, string | null, string | null>;
  /** FieldCrypto envelopes of the base64 AES-256 key and HMAC-SHA256 key (32 bytes each). */
  aes_key_enc: string;
  hmac_key_enc: string;
  created_at: Created;
  disabled_at: Date | null;
}

export interface NotifyEventRow {
  id: string;
  tenant_id: string;
  type: string;
  /** The producer's idempotency key: one event per key and tenant. */
  source_key: string;
  account_id: string | null;
  data: Json<Record<string, unknown>>;
  created_at: Created;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface WebhookDeliveryRow {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  event_id: string;
  status: DeliveryStatus;
  attempts: ColumnType<number, number | undefined, number>;
  replays: ColumnType<number, number | undefined, number>;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  dead_at: Date | null;
  created_at: Created;
}

export interface ExportKeyRow {
  tenant_id: string;
  kid: string;
  public_key_pem: string;
  /** FieldCrypto envelope of the PKCS#8 PEM private key. */
  private_key_enc: string;
  created_at: Created;
  retired_at: Date | null;
}

export interface ExportRow {
  tenant_id: string;
  /** Asia/Shanghai calendar day, YYYY-MM-DD. */
  day: string;
  version: number;
  kid: string;
  file_name: string;
  csv: string;
  /** base64 RSA PKCS#1 v1.5 SHA-256 signature over the CSV's UTF-8 bytes. */
  signature: string;
  sha256: string;
  row_count: number;
  total_amount_fen: ColumnType<bigint, bigint, never>;
  created_at: Created;
}

/** The sandbox card system's table rides along here so src/db/schema.ts needs no change for it. */
export interface NotifyTables extends SandboxCardsysTables {
  notify_cardsys_links: CardsysLinkRow;
  notify_cardsys_keys: CardsysKeyRow;
  notify_cardsys_events: CardsysEventRow;
  notify_cardsys_cards: CardsysCardRow;
  notify_cardsys_syncs: CardsysSyncRow;
  notify_cardsys_sync_parts: CardsysSyncPartRow;
  notify_webhook_endpoints: WebhookEndpointRow;
  notify_events: NotifyEventRow;
  notify_webhook_deliveries: WebhookDeliveryRow;
  notify_export_keys: ExportKeyRow;
  notify_exports: ExportRow;
}
