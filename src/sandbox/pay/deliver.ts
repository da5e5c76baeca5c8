// Sends Pay notifications as WeChat does: a fixed encrypted envelope, signed afresh per attempt, POSTed to notify_url, retried on WeChat's schedule until a 200/204.
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { enqueueJob, type JobContext } from '../../app/jobs.ts';
import type { Tx } from '../../db/tx.ts';
import { newId } from '../../shared/ids.ts';
import { encryptResource } from '../../wechat/pay/aead.ts';
import { beijingRfc3339 } from '../../wechat/pay/client.ts';
import { merchantOf, type SandboxMerchant } from './merchants.ts';
import { platformSignature } from './signing.ts';
import { faultsOf, findNotification, insertNotification, recordDelivery } from './store.ts';

export const DELIVER_NOTIFICATION_TOPIC = 'sandbox.pay.deliver_notification';
/**
 * After the first attempt fails, WeChat retries at these intervals: "15s/15s/30s/3m/10m/20m/30m/
 * 30m/30m/60m/3h/3h/3h/6h/6h - 总计 24h4m" (WECHAT-VECTORS.md §4.4).
 */
export const NOTIFY_RETRY_SCHEDULE_MS: readonly number[] = [
  15_000, 15_000, 30_000, 180_000, 600_000, 1_200_000, 1_800_000, 1_800_000, 1_800_000, 3_600_000, 10_800_000, 10_800_000, 10_800_000, 21_600_000, 21_600_000,
];
/** "商户系统收到支付结果通知，需要在5秒内返回应答报文": otherwise the attempt counts as failed. */
export const NOTIFY_TIMEOUT_MS = 5_000;
/** Copies the duplicate fault may add to one attempt. */
export const NOTIFY_DUPLICATES_MAX = 4;
const ERROR_TEXT_MAX_CHARS = 300;

/** The job's options: attempt n (1-based) of the job is retry n; after it fails, wait schedule[n]. */
export const DELIVERY_JOB_OPTIONS = {
  maxAttempts: NOTIFY_RETRY_SCHEDULE_MS.length,
  retryDelayMs: (attempt: number) => NOTIFY_RETRY_SCHEDULE_MS[attempt] ?? NOTIFY_RETRY_SCHEDULE_MS[NOTIFY_RETRY_SCHEDULE_MS.length - 1]!,
};

export interface NewNotification {
  kind: 'transaction' | 'refund';
  eventType: string;
  summary: string;
  /** The plaintext resource, encrypted once with the tenant's APIv3 key. */
  resource: Record<string, unknown>;
  notifyUrl: string;
  subject: string;
}

/**
 * Records a notification the platform owes, in the caller's transaction, with its retries
 * scheduled (the first retry 15 s out). The caller makes the first attempt after commit.
 */
export async function createNotification(ctx: AppContext, tx: Tx, merchant: SandboxMerchant, n: NewNotification): Promise<string> {
  const id = randomUUID();
  const now = ctx.clock.now();
  const envelope = {
    id,
    create_time: beijingRfc3339(now),
    resource_type: 'encrypt-resource',
    event_type: n.eventType,
    summary: n.summary,
    resource: encryptResource(merchant.pay.apiV3Key, JSON.stringify(n.resource), { associatedData: n.kind, originalType: n.kind }),
  };
  await insertNotification(tx, {
    id,
    tenant_id: merchant.tenantId,
    kind: n.kind,
    event_type: n.eventType,
    notify_url: n.notifyUrl,
    body: JSON.stringify(envelope),
    subject: n.subject,
    created_at: now,
  });
  await enqueueJob(tx, {
    topic: DELIVER_NOTIFICATION_TOPIC,
    payload: { notificationId: id },
    dedupeKey: `${DELIVER_NOTIFICATION_TOPIC}:${id}`,
    runAfter: new Date(now.getTime() + NOTIFY_RETRY_SCHEDULE_MS[0]!),
  });
  return id;
}

export interface DeliveryOutcome {
  delivered: boolean;
  /** The server's HTTP status of the (first) copy, or null when it did not answer. */
  status: number | null;
}

async function sendOnce(ctx: AppContext, merchant: SandboxMerchant, notificationId: string, url: string, body: string, duplicate: boolean): Promise<DeliveryOutcome> {
  let status: number | null = null;
  let error: string | null = null;
  try {
    const headers = await platformSignature(ctx, merchant, body);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS),
      redirect: 'manual',
    });
    status = res.status;
    await res.arrayBuffer();
    if (status !== 200 && status !== 204) error = `server answered HTTP ${status}`;
  } catch (err) {
    error = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, ERROR_TEXT_MAX_CHARS);
  }
  const delivered = status === 200 || status === 204;
  await recordDelivery(ctx.db, { id: newId('spd'), notification_id: notificationId, attempted_at: ctx.clock.now(), status, error, duplicate }, delivered);
  return { delivered, status };
}

/**
 * One attempt (plus the copies the duplicate fault asks for, sent at once, as WeChat sometimes
 * does over two links). `force` sends even when already delivered (the resend API).
 */
export async function attemptDelivery(ctx: AppContext, notificationId: string, opts: { force?: boolean } = {}): Promise<DeliveryOutcome> {
  const row = await findNotification(ctx.db, notificationId);
  if (!row) throw new Error(`no sandbox Pay notification ${notificationId}`);
  if (row.delivered_at && !opts.force) return { delivered: true, status: row.last_status };
  const merchant = await merchantOf(ctx, row.tenant_id);
  if (!merchant) throw new Error(`tenant ${row.tenant_id} has no WeChat Pay merchant`);
  const copies = Math.min((await faultsOf(ctx.db, row.tenant_id))?.notify_duplicates ?? 0, NOTIFY_DUPLICATES_MAX);
  const outcomes = await Promise.all(Array.from({ length: 1 + copies }, (_, i) => sendOnce(ctx, merchant, row.id, row.notify_url, row.body, i > 0)));
  const first = outcomes[0]!;
  const delivered = outcomes.some((o) => o.delivered);
  if (!delivered) ctx.log.warn({ notificationId, tenantId: row.tenant_id, status: first.status }, 'sandbox WeChat Pay notification not accepted');
  return { delivered, status: first.status };
}

/** The retry job: a no-op once delivered; otherwise one more attempt, and throwing schedules the next. */
export async function deliverNotificationJob(ctx: AppContext, payload: { notificationId: string }, _job: JobContext): Promise<void> {
  const outcome = await attemptDelivery(ctx, payload.notificationId);
  if (!outcome.delivered) throw new Error(`Pay notification not accepted (HTTP ${outcome.status ?? 'none'})`);
}
