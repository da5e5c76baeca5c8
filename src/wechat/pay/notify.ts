// Receiving a WeChat Pay notification: verify over the raw bytes, check the replay window, decrypt, check the merchant, then record and handle it exactly once (§4.4).
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { enqueueJob } from '../../app/jobs.ts';
import type { Insertable } from 'kysely';
import { GroupCommit, type Outcome } from '../../db/group-commit.ts';
import type { Db, Tx } from '../../db/tx.ts';
import { AeadError, decryptResource, AEAD_ALGORITHM } from './aead.ts';
import { platformSignatureProblem } from './http.ts';
import { PRUNE_NOTIFICATIONS_TOPIC } from './jobs.ts';
import { parseJsonObject, parseRefund, parseTransaction, type PayRefund, type PayTransaction } from './resources.ts';
import type { PayNotificationRow } from '../pay.table.ts';
import { notificationsOf, recordNotificationsOnce, type StoredPayNotification } from './store.ts';
import { payTenantForNotification, type PayTenant } from './tenant.ts';

/** A notification envelope is about 1 KB; its id is short. */
const NOTIFICATION_ID_MAX_CHARS = 128;
const REFUND_EVENTS = ['REFUND.SUCCESS', 'REFUND.ABNORMAL', 'REFUND.CLOSED'] as const;

interface NotificationBase {
  tenantId: string;
  /** The envelope's `id`: the same across WeChat's retries of one notification. */
  notificationId: string;
  eventType: string;
  /** The envelope's create_time (RFC 3339, as sent). */
  createTime: string;
  summary: string | undefined;
}

export interface TransactionNotification extends NotificationBase {
  transaction: PayTransaction;
}

export interface RefundNotification extends NotificationBase {
  refund: PayRefund;
}

/**
 * What runs, once per notification and state change, inside the transaction that records it.
 * Check the resource against the stored order (amount, appid, out_trade_no) here, under its row
 * lock. Throw to refuse: the record rolls back and WeChat retries (24 h 4 min in all).
 */
export interface NotificationHandlers {
  onTransaction(ctx: AppContext, tx: Tx, n: TransactionNotification): Promise<void>;
  /**
   * Several payment notifications recorded in one transaction (group commit), in lock order: the
   * same guarantees as onTransaction for each. Default: onTransaction for each in turn.
   */
  onTransactions?(ctx: AppContext, tx: Tx, ns: TransactionNotification[]): Promise<void>;
  onRefund(ctx: AppContext, tx: Tx, n: RefundNotification): Promise<void>;
}

export interface NotificationHeaders {
  timestamp?: string;
  nonce?: string;
  signature?: string;
  serial?: string;
}

function field(o: Record<string, unknown>, key: string, max = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw AppError.validation([{ field: key, message: v === undefined ? 'is required' : 'is malformed' }]);
  return v;
}

function optional(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v.length <= 256 ? v : undefined;
}

function assertOurs(tenant: PayTenant, mchId: string | undefined, appId?: string): void {
  if (mchId !== tenant.mchId) throw new AppError('forbidden', 'the notification is for another merchant');
  if (appId !== undefined && tenant.appIds.length > 0 && !tenant.appIds.includes(appId)) throw new AppError('forbidden', "the payment is for an app that is not the tenant's");
}

type Parsed =
  | { kind: 'transaction'; base: NotificationBase; transaction: PayTransaction }
  | { kind: 'refund'; base: NotificationBase; refund: PayRefund };

/** Envelope → decrypted, checked resource. Throws AppError (4xx) on anything malformed. */
function parseNotification(tenant: PayTenant, body: Buffer): Parsed {
  const envelope = parseJsonObject(body.toString('utf8'), 'body');
  const base: NotificationBase = {
    tenantId: tenant.tenantId,
    notificationId: field(envelope, 'id', NOTIFICATION_ID_MAX_CHARS),
    eventType: field(envelope, 'event_type', 64),
    createTime: field(envelope, 'create_time', 40),
    summary: optional(envelope, 'summary'),
  };
  if (Number.isNaN(Date.parse(base.createTime))) throw AppError.validation([{ field: 'create_time', message: 'is not a time' }]);
  if (field(envelope, 'resource_type', 64) !== 'encrypt-resource') throw AppError.validation([{ field: 'resource_type', message: 'must be encrypt-resource' }]);
  const resource = envelope.resource;
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) throw AppError.validation([{ field: 'resource', message: 'is required' }]);
  const r = resource as Record<string, unknown>;
  const originalType = field(r, 'original_type', 32);
  if (field(r, 'algorithm', 32) !== AEAD_ALGORITHM) throw AppError.validation([{ field: 'resource.algorithm', message: `must be ${AEAD_ALGORITHM}` }]);
  let plaintext: string;
  try {
    plaintext = decryptResource(tenant.apiV3Key, {
      algorithm: AEAD_ALGORITHM,
      ciphertext: field(r, 'ciphertext', 64 * 1024),
      nonce: field(r, 'nonce', 64),
      associated_data: typeof r.associated_data === 'string' ? r.associated_data : '',
    });
  } catch (err) {
    if (err instanceof AeadError) throw AppError.validation([{ field: 'resource.ciphertext', message: 'does not decrypt with the APIv3 key' }]);
    throw err;
  }
  const decrypted = parseJsonObject(plaintext, 'resource');
  if (originalType === 'transaction') {
    if (base.eventType !== 'TRANSACTION.SUCCESS') throw AppError.validation([{ field: 'event_type', message: 'a transaction notification must be TRANSACTION.SUCCESS' }]);
    const transaction = parseTransaction(decrypted);
    if (transaction.tradeState !== 'SUCCESS' || !transaction.transactionId) {
      throw AppError.validation([{ field: 'resource.trade_state', message: 'a TRANSACTION.SUCCESS notification carries a successful payment with its transaction_id' }]);
    }
    assertOurs(tenant, transaction.mchId, transaction.appId);
    return { kind: 'transaction', base, transaction };
  }
  if (originalType === 'refund') {
    if (!(REFUND_EVENTS as readonly string[]).includes(base.eventType)) throw AppError.validation([{ field: 'event_type', message: `a refund notification is one of ${REFUND_EVENTS.join(', ')}` }]);
    const refund = parseRefund(decrypted);
    if (`REFUND.${refund.status}` !== base.eventType) throw AppError.validation([{ field: 'resource.refund_status', message: 'does not match event_type' }]);
    assertOurs(tenant, refund.mchId);
    return { kind: 'refund', base, refund };
  }
  throw AppError.validation([{ field: 'resource.original_type', message: 'must be transaction or refund' }]);
}

/**
 * Verifies and handles one delivery. The signature is checked over `body` exactly as received,
 * before anything parses it; a timestamp more than 5 minutes from our clock is a replay. A repeat
 * (same id, or the same order/refund state under another id) changes nothing and is acknowledged.
 */
export async function receiveNotification(
  ctx: AppContext,
  tenantId: string,
  headers: NotificationHeaders,
  body: Buffer,
  handlers: NotificationHandlers,
): Promise<{ duplicate: boolean }> {
  const now = ctx.clock.now();
  const check = (tenant: PayTenant): Parsed => {
    const problem = platformSignatureProblem(tenant.platformKeys, headers, body, now);
    if (problem) throw new AppError('unauthenticated', problem);
    return parseNotification(tenant, body);
  };
  let { tenant, reused } = await payTenantForNotification(ctx, tenantId);
  let n: Parsed;
  try {
    try {
      n = check(tenant);
    } catch (err) {
      // Checked against a remembered set-up: the keys may have changed since; a fresh read decides.
      if (!reused || !(err instanceof AppError)) throw err;
      ({ tenant } = await payTenantForNotification(ctx, tenantId, { fresh: true }));
      n = check(tenant);
    }
  } catch (err) {
    if (err instanceof AppError && err.code === 'unauthenticated') ctx.log.warn({ tenantId, serial: headers.serial?.slice(0, 64), reason: err.message }, 'WeChat Pay notification refused');
    throw err;
  }
  const t = n.kind === 'transaction' ? n.transaction : undefined;
  const rf = n.kind === 'refund' ? n.refund : undefined;
  const recorded = await committerOf(ctx, handlers).submit({
    n,
    row: {
      tenant_id: tenantId,
      notification_id: n.base.notificationId,
      subject_key: t ? `trade:${t.outTradeNo}:${t.tradeState}` : `refund:${rf!.outRefundNo}:${rf!.status}`,
      event_type: n.base.eventType,
      original_type: n.kind,
      mchid: tenant.mchId,
      out_trade_no: t?.outTradeNo ?? rf!.outTradeNo,
      transaction_id: t?.transactionId ?? rf?.transactionId ?? null,
      out_refund_no: rf?.outRefundNo ?? null,
      refund_id: rf?.refundId ?? null,
      state: t?.tradeState ?? rf!.status,
      amount_fen: t ? t.amount.totalFen : rf!.amount.refundFen,
      created_at: new Date(n.base.createTime),
      received_at: now,
    },
  });
  // Committed with a fresh record: the batch announced the day's retention pass (or knew it was).
  if (recorded) pruneAnnounced.set(ctx, now.toISOString().slice(0, 10));
  ctx.log.info(
    { tenantId, notificationId: n.base.notificationId, eventType: n.base.eventType, outTradeNo: t?.outTradeNo ?? rf?.outTradeNo, outRefundNo: rf?.outRefundNo, duplicate: !recorded },
    recorded ? 'WeChat Pay notification processed' : 'repeated WeChat Pay notification acknowledged',
  );
  return { duplicate: !recorded };
}

interface Delivery {
  n: Parsed;
  row: Insertable<PayNotificationRow>;
}

/**
 * Verified deliveries are recorded and handled by group commit: the deliveries of the moment share
 * one transaction (one de-duplication insert, the handlers' multi-row writes, one commit), and each
 * is acknowledged only after that commit. A batch that fails is re-run one delivery per
 * transaction, so a delivery the handler refuses fails alone and WeChat retries just that one.
 */
/** The day whose retention pass this instance has seen announced in a committed batch. */
const pruneAnnounced = new WeakMap<AppContext, string>();

function applyDeliveries(ctx: AppContext, handlers: NotificationHandlers) {
  return async (tx: Tx, items: Delivery[]): Promise<Outcome<boolean>[]> => {
    // Repeats inside the batch (WeChat's concurrent retries) are answered as repeats, like a stored one.
    const seen = new Set<string>();
    const unique = items.filter((d) => {
      const keys = [`i\0${d.row.tenant_id}\0${d.row.notification_id}`, `s\0${d.row.tenant_id}\0${d.row.subject_key}`];
      if (keys.some((k) => seen.has(k))) return false;
      for (const k of keys) seen.add(k);
      return true;
    });
    const fresh = new Set((await recordNotificationsOnce(tx, unique.map((d) => d.row))).map((k) => `${k.tenantId}\0${k.notificationId}`));
    const isFresh = (d: Delivery) => fresh.has(`${d.row.tenant_id}\0${d.row.notification_id}`);
    const handled = unique.filter(isFresh);
    if (handled.length > 0) {
      // One retention pass a day, announced by the day's first notification (each instance stops
      // announcing once one of its announcements committed).
      const day = ctx.clock.now().toISOString().slice(0, 10);
      if (pruneAnnounced.get(ctx) !== day) {
        await enqueueJob(tx, { topic: PRUNE_NOTIFICATIONS_TOPIC, payload: {}, dedupeKey: `${PRUNE_NOTIFICATIONS_TOPIC}:${day}` });
      }
      const payments = handled.flatMap((d) => (d.n.kind === 'transaction' ? [{ ...d.n.base, transaction: d.n.transaction }] : []));
      if (handlers.onTransactions && payments.length > 0) await handlers.onTransactions(ctx, tx, payments);
      else for (const p of payments) await handlers.onTransaction(ctx, tx, p);
      for (const d of handled) if (d.n.kind === 'refund') await handlers.onRefund(ctx, tx, { ...d.n.base, refund: d.n.refund });
    }
    const counted = new Set<Delivery>(handled);
    return items.map((d) => ({ ok: true as const, value: counted.has(d) }));
  };
}

/** Notification transactions one instance runs at once. */
const NOTIFY_BATCHES_IN_FLIGHT = 2;

const committers = new WeakMap<NotificationHandlers, WeakMap<AppContext, GroupCommit<Delivery, boolean>>>();

function committerOf(ctx: AppContext, handlers: NotificationHandlers): GroupCommit<Delivery, boolean> {
  let byCtx = committers.get(handlers);
  if (!byCtx) committers.set(handlers, (byCtx = new WeakMap()));
  let c = byCtx.get(ctx);
  if (!c) {
    c = new GroupCommit<Delivery, boolean>(ctx.db, {
      apply: async () => {
        throw new Error('pay notifications are applied in batches');
      },
      applyBatch: applyDeliveries(ctx, handlers),
      // Orders are locked in out_trade_no order within a batch; the same order keeps batches from deadlocking.
      lockKey: (d) => `${d.row.tenant_id}\0${d.row.out_trade_no}\0${d.row.notification_id}`,
      isolateFailures: true,
      // Few transactions at once, so the deliveries of a busy moment share one (fewer statements each).
      maxInflight: NOTIFY_BATCHES_IN_FLIGHT,
    });
    byCtx.set(ctx, c);
  }
  return c;
}

/** Most records `payNotificationsOf` returns. */
export const PAY_NOTIFICATIONS_LIST_MAX = 100;

/** The notifications processed for one order (payment and refunds), oldest first: the trail that each was applied once. */
export function payNotificationsOf(db: Db | Tx, tenantId: string, outTradeNo: string): Promise<StoredPayNotification[]> {
  return notificationsOf(db, tenantId, outTradeNo, PAY_NOTIFICATIONS_LIST_MAX);
}
