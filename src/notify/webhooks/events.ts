// The transaction event source: producers enqueue events in their own transaction; the fan-out job records each once and queues one delivery per interested endpoint.
import type { AppContext } from '../../app/context.ts';
import { enqueueJob } from '../../app/jobs.ts';
import { inTx, type Tx } from '../../db/tx.ts';
import { newId } from '../../shared/ids.ts';
import { endpointWants, toEndpoint } from './endpoints.ts';
import { checkEvent, type TransactionEvent } from './types.ts';

export const WEBHOOK_FANOUT_TOPIC = 'notify.webhook-fanout';
export const WEBHOOK_DELIVER_TOPIC = 'notify.webhook-deliver';

interface FanoutPayload {
  id: string;
  tenantId: string;
  type: string;
  sourceKey: string;
  accountId: string | null;
  createdAt: string;
  data: Record<string, unknown>;
}

/**
 * Announces a transaction event to the tenant's partner webhooks. Call it inside the transaction
 * that makes the change (e.g. the top-up's crediting), so the event exists exactly when the change
 * commits. It costs one outbox row; everything else happens in the background. Replaying the same
 * `sourceKey` adds nothing. Throws EventError for a malformed event (a bug in the caller).
 */
export async function enqueueTransactionEvent(tx: Tx, event: TransactionEvent): Promise<void> {
  const data = checkEvent(event);
  const payload: FanoutPayload = {
    id: newId('evt'),
    tenantId: event.tenantId,
    type: event.type,
    sourceKey: event.sourceKey,
    accountId: event.accountId ?? null,
    createdAt: event.occurredAt.toISOString(),
    data,
  };
  await enqueueJob(tx, { topic: WEBHOOK_FANOUT_TOPIC, payload, dedupeKey: `notify.event:${event.tenantId}:${event.sourceKey}` });
}

export function deliveryJobKey(deliveryId: string, replay: number): string {
  return `${WEBHOOK_DELIVER_TOPIC}:${deliveryId}:${replay}`;
}

/**
 * Records the event (once per tenant and source key, even past the outbox's retention) and
 * creates a delivery, with its job, for each enabled endpoint that wants it. Idempotent: a rerun
 * finds the event and the deliveries already there.
 */
export async function fanoutJob(ctx: AppContext, p: FanoutPayload): Promise<void> {
  const created = await inTx(ctx.db, async (tx) => {
    await tx
      .insertInto('notify_events')
      .values({ id: p.id, tenant_id: p.tenantId, type: p.type, source_key: p.sourceKey, account_id: p.accountId, data: JSON.stringify(p.data), created_at: new Date(p.createdAt) })
      .onConflict((oc) => oc.columns(['tenant_id', 'source_key']).doNothing())
      .execute();
    const event = await tx.selectFrom('notify_events').select(['id']).where('tenant_id', '=', p.tenantId).where('source_key', '=', p.sourceKey).executeTakeFirstOrThrow();
    const endpoints = (await tx.selectFrom('notify_webhook_endpoints').selectAll().where('tenant_id', '=', p.tenantId).where('disabled_at', 'is', null).execute()).map(toEndpoint);
    let n = 0;
    for (const e of endpoints) {
      if (!endpointWants(e, p.type, p.accountId)) continue;
      const d = await tx
        .insertInto('notify_webhook_deliveries')
        .values({ id: newId('whd'), tenant_id: p.tenantId, endpoint_id: e.id, event_id: event.id, status: 'pending', last_status_code: null, last_error: null, last_attempt_at: null, delivered_at: null, dead_at: null, created_at: ctx.clock.now() })
        .onConflict((oc) => oc.columns(['endpoint_id', 'event_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!d) continue;
      await enqueueJob(tx, { topic: WEBHOOK_DELIVER_TOPIC, payload: { deliveryId: d.id }, dedupeKey: deliveryJobKey(d.id, 0) });
      n++;
    }
    return n;
  });
  if (created > 0) ctx.log.debug({ tenantId: p.tenantId, type: p.type, deliveries: created }, 'webhook deliveries queued');
}
