// interchange tables: card-system MQTT feed state, partner webhooks and deliveries, signed daily batch exports (owned by src/notify), and the sandbox card system's records.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // --- card-system status feed (src/notify/cardsys) ---------------------------------------------
  // One link per tenant whose card system publishes to the broker; its keys are versioned (kid).
  await db.schema
    .createTable('notify_cardsys_links')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('last_sync_requested_at', 'timestamptz')
    .addColumn('last_full_sync_at', 'timestamptz')
    .addColumn('last_snapshot_id', 'text')
    .addColumn('last_snapshot_drifted', 'integer')
    .addColumn('drift_flagged_at', 'timestamptz')
    .execute();
  await db.schema
    .createTable('notify_cardsys_keys')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('notify_cardsys_links.tenant_id'))
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('enc_key_enc', 'text', (c) => c.notNull())
    .addColumn('mac_key_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('retired_at', 'timestamptz')
    .addPrimaryKeyConstraint('notify_cardsys_keys_pk', ['tenant_id', 'kid'])
    .execute();
  // Event ids seen, for idempotent processing of redelivered messages; pruned after a retention.
  await db.schema
    .createTable('notify_cardsys_events')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('notify_cardsys_events_pk', ['tenant_id', 'event_id'])
    .execute();
  await sql`create index notify_cardsys_events_age on notify_cardsys_events (received_at)`.execute(db);
  // The card system's sequence per card: an event or snapshot entry at or below it is stale.
  await db.schema
    .createTable('notify_cardsys_cards')
    .addColumn('core_card_id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('last_seq', 'bigint', (c) => c.notNull())
    .addColumn('last_status', 'text', (c) => c.notNull())
    .addColumn('last_changed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('notify_cardsys_syncs')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('snapshot_id', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('parts', 'integer', (c) => c.notNull().check(sql`parts > 0`))
    .addColumn('parts_done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cards', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('applied', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('drifted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz')
    .addPrimaryKeyConstraint('notify_cardsys_syncs_pk', ['tenant_id', 'snapshot_id'])
    .execute();
  await sql`create index notify_cardsys_syncs_age on notify_cardsys_syncs (started_at)`.execute(db);
  await db.schema
    .createTable('notify_cardsys_sync_parts')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('snapshot_id', 'text', (c) => c.notNull())
    .addColumn('part', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('notify_cardsys_sync_parts_pk', ['tenant_id', 'snapshot_id', 'part'])
    .execute();

  // --- partner webhooks (src/notify/webhooks) ---------------------------------------------------
  await db.schema
    .createTable('notify_webhook_endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('event_types', 'jsonb', (c) => c.notNull())
    .addColumn('account_ids', 'jsonb')
    .addColumn('aes_key_enc', 'text', (c) => c.notNull())
    .addColumn('hmac_key_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('disabled_at', 'timestamptz')
    .execute();
  await sql`create index notify_webhook_endpoints_tenant on notify_webhook_endpoints (tenant_id) where disabled_at is null`.execute(db);
  await db.schema
    .createTable('notify_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('source_key', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create unique index notify_events_source on notify_events (tenant_id, source_key)`.execute(db);
  await db.schema
    .createTable('notify_webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'text', (c) => c.notNull().references('notify_webhook_endpoints.id'))
    .addColumn('event_id', 'text', (c) => c.notNull().references('notify_events.id'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'delivered', 'dead')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('replays', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('last_attempt_at', 'timestamptz')
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('dead_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create unique index notify_webhook_deliveries_once on notify_webhook_deliveries (endpoint_id, event_id)`.execute(db);
  await sql`create index notify_webhook_deliveries_list on notify_webhook_deliveries (tenant_id, status, id)`.execute(db);

  // --- signed daily batch exports (src/notify/export) -------------------------------------------
  await db.schema
    .createTable('notify_export_keys')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('public_key_pem', 'text', (c) => c.notNull())
    .addColumn('private_key_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('retired_at', 'timestamptz')
    .addPrimaryKeyConstraint('notify_export_keys_pk', ['tenant_id', 'kid'])
    .execute();
  // One signing key at a time per tenant: two instances enabling the export at once make one key.
  await sql`create unique index notify_export_keys_active on notify_export_keys (tenant_id) where retired_at is null`.execute(db);
  await db.schema
    .createTable('notify_exports')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('day', 'text', (c) => c.notNull().check(sql`day ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`))
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version > 0`))
    .addColumn('kid', 'text', (c) => c.notNull())
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('csv', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('row_count', 'integer', (c) => c.notNull())
    .addColumn('total_amount_fen', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('notify_exports_pk', ['tenant_id', 'day', 'version'])
    .execute();

  // --- the sandbox card system (src/sandbox/cardsys; never written in production) ---------------
  await db.schema
    .createTable('sandbox_cardsys_cards')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('number_bidx', 'text', (c) => c.notNull())
    .addColumn('number_enc', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('changed_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('sandbox_cardsys_cards_pk', ['tenant_id', 'number_bidx'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'sandbox_cardsys_cards',
    'notify_exports',
    'notify_export_keys',
    'notify_webhook_deliveries',
    'notify_events',
    'notify_webhook_endpoints',
    'notify_cardsys_sync_parts',
    'notify_cardsys_syncs',
    'notify_cardsys_cards',
    'notify_cardsys_events',
    'notify_cardsys_keys',
    'notify_cardsys_links',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
