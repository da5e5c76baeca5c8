// topup tables: citizen-card top-up orders, their payment attempts and history, refunds, reconciliation runs, the review queue, trusted contacts and per-tenant switches (owned by src/topup).
import { sql, type Kysely } from 'kysely';

const ORDER_STATUSES = `('created', 'paid', 'credited', 'settling', 'completed', 'refunding', 'refunded', 'failed', 'review')`;
const METHODS = `('wechat_balance', 'bank_card', 'credit_card')`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('topup_orders')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('card_ledger_account_id', 'text', (c) => c.notNull())
    .addColumn('card_masked', 'text', (c) => c.notNull())
    .addColumn('card_form', 'text', (c) => c.notNull().check(sql`card_form in ('electronic', 'physical')`))
    .addColumn('contact_id', 'text')
    .addColumn('method', 'text', (c) => c.notNull().check(sql.raw(`method in ${METHODS}`)))
    .addColumn('amount_fen', 'bigint', (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn('fee_fen', 'bigint', (c) => c.notNull().check(sql`fee_fen >= 0`))
    .addColumn('total_fen', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql.raw(`status in ${ORDER_STATUSES}`)))
    .addColumn('reason', 'text')
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('first_answer', 'jsonb')
    .addColumn('expected_arrival', 'timestamptz')
    .addColumn('settle_kind', 'text')
    .addColumn('settle_due_at', 'timestamptz')
    .addColumn('calendar_covered', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('paid_out_trade_no', 'text')
    .addColumn('transaction_id', 'text')
    .addColumn('paid_fen', 'bigint')
    .addColumn('paid_at', 'timestamptz')
    .addColumn('credited_at', 'timestamptz')
    .addColumn('completed_at', 'timestamptz')
    .addColumn('failed_at', 'timestamptz')
    .addColumn('refunded_fen', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('load_state', 'text', (c) => c.notNull().defaultTo('none').check(sql`load_state in ('none', 'pending', 'loaded', 'expired')`))
    .addColumn('load_deadline', 'timestamptz')
    .addColumn('loaded_at', 'timestamptz')
    .addColumn('load_channel', 'text')
    .addColumn('load_ledger_id', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addCheckConstraint('topup_orders_total', sql`total_fen = amount_fen + fee_fen`)
    .execute();
  await sql`create unique index topup_orders_idempotency on topup_orders (tenant_id, user_id, idempotency_key)`.execute(db);
  await sql`create index topup_orders_user on topup_orders (user_id, created_at desc)`.execute(db);
  await sql`create index topup_orders_card on topup_orders (card_id, status)`.execute(db);
  await sql`create index topup_orders_tenant_created on topup_orders (tenant_id, created_at)`.execute(db);
  await sql`create index topup_orders_settling on topup_orders (settle_due_at) where status = 'settling'`.execute(db);
  await sql`create index topup_orders_transaction on topup_orders (tenant_id, transaction_id) where transaction_id is not null`.execute(db);

  // One row per WeChat Pay order (out_trade_no): a top-up order may be offered to the payer in more than one app.
  await db.schema
    .createTable('topup_attempts')
    .addColumn('out_trade_no', 'text', (c) => c.primaryKey())
    .addColumn('order_id', 'text', (c) => c.notNull().references('topup_orders.id'))
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('app_kind', 'text', (c) => c.notNull().check(sql`app_kind in ('oa', 'miniProgram')`))
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('payer_openid', 'text', (c) => c.notNull())
    .addColumn('notify_url', 'text', (c) => c.notNull())
    .addColumn('amount_fen', 'bigint', (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn('prepay_id', 'text')
    .addColumn('pay_params', 'jsonb')
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('creating', 'open', 'paid', 'closing', 'closed', 'failed')`))
    .addColumn('transaction_id', 'text')
    .addColumn('paid_fen', 'bigint')
    .addColumn('bank_type', 'text')
    .addColumn('success_time', 'timestamptz')
    .addColumn('duplicate', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index topup_attempts_order on topup_attempts (order_id)`.execute(db);
  await sql`create index topup_attempts_paid on topup_attempts (tenant_id, success_time) where success_time is not null`.execute(db);
  await sql`create index topup_attempts_transaction on topup_attempts (tenant_id, transaction_id) where transaction_id is not null`.execute(db);

  await db.schema
    .createTable('topup_history')
    .addColumn('seq', 'bigserial', (c) => c.primaryKey())
    .addColumn('order_id', 'text', (c) => c.notNull().references('topup_orders.id'))
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .execute();
  await sql`create index topup_history_order on topup_history (order_id, seq)`.execute(db);
  await sql`create index topup_history_tenant on topup_history (tenant_id, seq)`.execute(db);

  await db.schema
    .createTable('topup_refunds')
    .addColumn('out_refund_no', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('order_id', 'text', (c) => c.notNull().references('topup_orders.id'))
    .addColumn('out_trade_no', 'text', (c) => c.notNull().references('topup_attempts.out_trade_no'))
    .addColumn('amount_fen', 'bigint', (c) => c.notNull().check(sql`amount_fen > 0`))
    .addColumn('total_fen', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('suspense', 'card')`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('requested', 'processing', 'succeeded', 'closed', 'abnormal')`))
    .addColumn('refund_id', 'text')
    .addColumn('review_item_id', 'text')
    .addColumn('last_error', 'text')
    .addColumn('succeeded_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index topup_refunds_order on topup_refunds (order_id)`.execute(db);
  await sql`create index topup_refunds_attempt on topup_refunds (out_trade_no)`.execute(db);

  await db.schema
    .createTable('topup_review_items')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('order_id', 'text')
    .addColumn('out_trade_no', 'text')
    .addColumn('class', 'text', (c) => c.notNull())
    .addColumn('amount_fen', 'bigint', (c) => c.notNull())
    .addColumn('held_fen', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`held_fen >= 0`))
    .addColumn('detail', 'jsonb')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'pending_approval', 'closed')`))
    .addColumn('assignee', 'text')
    .addColumn('proposed_decision', 'text')
    .addColumn('proposed_by', 'text')
    .addColumn('proposed_at', 'timestamptz')
    .addColumn('decision', 'text')
    .addColumn('decided_by', 'text')
    .addColumn('approved_by', 'text')
    .addColumn('decided_at', 'timestamptz')
    .addColumn('note', 'text')
    .addColumn('due_at', 'timestamptz', (c) => c.notNull())
    .addColumn('escalation_level', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('escalated_at', 'timestamptz')
    .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index topup_review_open on topup_review_items (tenant_id, due_at) where status <> 'closed'`.execute(db);
  await sql`create index topup_review_order on topup_review_items (order_id)`.execute(db);

  await db.schema
    .createTable('topup_recon_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('bill_date', 'text', (c) => c.notNull().check(sql`bill_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'done', 'failed')`))
    .addColumn('bill_rows', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('matched', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('counts', 'jsonb')
    .addColumn('totals', 'jsonb')
    .addColumn('bill_hash', 'text')
    .addColumn('error', 'text')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await sql`create index topup_recon_runs_day on topup_recon_runs (tenant_id, bill_date, started_at desc)`.execute(db);

  await db.schema
    .createTable('topup_recon_mismatches')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull().references('topup_recon_runs.id'))
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('class', 'text', (c) => c.notNull())
    .addColumn('out_trade_no', 'text')
    .addColumn('order_id', 'text')
    .addColumn('bill_fen', 'bigint')
    .addColumn('recorded_fen', 'bigint')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('review_item_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index topup_recon_mismatches_run on topup_recon_mismatches (run_id, id)`.execute(db);

  await db.schema
    .createTable('topup_trusted_contacts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('requester_user_id', 'text', (c) => c.notNull())
    .addColumn('card_id', 'text', (c) => c.notNull())
    .addColumn('card_masked', 'text', (c) => c.notNull())
    .addColumn('relation', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'accepted', 'declined', 'revoked')`))
    .addColumn('owner_user_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('ended_at', 'timestamptz')
    .execute();
  // One live request per (requester, card); ended ones stay as history.
  await sql`create unique index topup_contacts_live on topup_trusted_contacts (requester_user_id, card_id) where status in ('pending', 'accepted')`.execute(db);
  await sql`create index topup_contacts_card on topup_trusted_contacts (tenant_id, card_id, status)`.execute(db);

  await db.schema
    .createTable('topup_settings')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('paused', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('paused_message', 'text')
    .addColumn('paused_at', 'timestamptz')
    .addColumn('paused_by', 'text')
    .addColumn('four_eyes_threshold_fen', 'bigint')
    .addColumn('result_template_id', 'text')
    .addColumn('delay_template_id', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['topup_settings', 'topup_trusted_contacts', 'topup_recon_mismatches', 'topup_recon_runs', 'topup_review_items', 'topup_refunds', 'topup_history', 'topup_attempts', 'topup_orders']) {
    await db.schema.dropTable(t).execute();
  }
}
