// Operator functions for webhook deliveries (the console calls these): list with a cursor, replay one, replay a tenant's dead letters in bounded batches.
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { enqueueJob } from '../../app/jobs.ts';
import { inTx, type Db } from '../../db/tx.ts';
import type { DeliveryStatus } from '../notify.table.ts';
import { WEBHOOK_DELIVER_TOPIC, deliveryJobKey } from './events.ts';

export const DELIVERY_PAGE_MAX = 100;
/** Dead letters one replay call requeues; call again for more. */
export const REPLAY_BATCH_MAX = 500;

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  replays: number;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
  deadAt: Date | null;
  createdAt: Date;
}

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime())) throw AppError.validation([{ field: 'cursor', message: 'not a cursor from a previous page' }]);
  return { createdAt, id };
}

/** A tenant's deliveries, newest first, optionally by status or endpoint. */
export async function listWebhookDeliveries(
  db: Db,
  tenantId: string,
  o: { status?: DeliveryStatus; endpointId?: string; limit?: number; cursor?: string } = {},
): Promise<{ items: WebhookDelivery[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(o.limit ?? 50, 1), DELIVERY_PAGE_MAX);
  let q = db
    .selectFrom('notify_webhook_deliveries as d')
    .innerJoin('notify_events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select('e.type as event_type')
    .where('d.tenant_id', '=', tenantId);
  if (o.status) q = q.where('d.status', '=', o.status);
  if (o.endpointId) q = q.where('d.endpoint_id', '=', o.endpointId);
  if (o.cursor) {
    const c = decodeCursor(o.cursor);
    q = q.where((eb) => eb.or([eb('d.created_at', '<', c.createdAt), eb.and([eb('d.created_at', '=', c.createdAt), eb('d.id', '<', c.id)])]));
  }
  const rows = await q.orderBy('d.created_at', 'desc').orderBy('d.id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({
      id: r.id,
      endpointId: r.endpoint_id,
      eventId: r.event_id,
      eventType: r.event_type,
      status: r.status,
      attempts: r.attempts,
      replays: r.replays,
      lastStatusCode: r.last_status_code,
      lastError: r.last_error,
      lastAttemptAt: r.last_attempt_at,
      deliveredAt: r.delivered_at,
      deadAt: r.dead_at,
      createdAt: r.created_at,
    })),
    nextCursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null,
  };
}

/**
 * Sends a delivery again from its first attempt, on the full retry schedule: a dead letter after
 * the partner fixed their side, or a delivered one the partner lost. A pending one is `conflict`.
 */
export async function replayWebhookDelivery(ctx: AppContext, tenantId: string, deliveryId: string): Promise<void> {
  await inTx(ctx.db, async (tx) => {
    const d = await tx.selectFrom('notify_webhook_deliveries').select(['status', 'replays', 'endpoint_id']).where('tenant_id', '=', tenantId).where('id', '=', deliveryId).forUpdate().executeTakeFirst();
    if (!d) throw new AppError('not_found', `no webhook delivery ${deliveryId}`);
    if (d.status === 'pending') throw new AppError('conflict', 'the delivery is still being attempted');
    const endpoint = await tx.selectFrom('notify_webhook_endpoints').select('disabled_at').where('id', '=', d.endpoint_id).executeTakeFirstOrThrow();
    if (endpoint.disabled_at !== null) throw new AppError('conflict', 'the endpoint is disabled');
    const replays = d.replays + 1;
    await tx.updateTable('notify_webhook_deliveries').set({ status: 'pending', replays, dead_at: null, delivered_at: null }).where('id', '=', deliveryId).execute();
    await enqueueJob(tx, { topic: WEBHOOK_DELIVER_TOPIC, payload: { deliveryId }, dedupeKey: deliveryJobKey(deliveryId, replays) });
  });
  ctx.log.info({ tenantId, deliveryId }, 'webhook delivery replayed by an operator');
}

/** Replays up to REPLAY_BATCH_MAX dead letters of the tenant (or of one endpoint); returns how many. */
export async function replayDeadWebhookDeliveries(ctx: AppContext, tenantId: string, o: { endpointId?: string } = {}): Promise<number> {
  let q = ctx.db
    .selectFrom('notify_webhook_deliveries as d')
    .innerJoin('notify_webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .select('d.id')
    .where('d.tenant_id', '=', tenantId)
    .where('d.status', '=', 'dead')
    .where('e.disabled_at', 'is', null);
  if (o.endpointId) q = q.where('d.endpoint_id', '=', o.endpointId);
  const dead = await q.orderBy('d.created_at').limit(REPLAY_BATCH_MAX).execute();
  let n = 0;
  for (const d of dead) {
    try {
      await replayWebhookDelivery(ctx, tenantId, d.id);
      n++;
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'conflict')) throw err;
    }
  }
  return n;
}
