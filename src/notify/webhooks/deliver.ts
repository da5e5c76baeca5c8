// The delivery job: one signed, encrypted POST to the partner per attempt; retried on the named schedule, then a dead letter an operator can replay.
import type { AppContext } from '../../app/context.ts';
import type { JobContext } from '../../app/jobs.ts';
import { endpointWithKeys } from './endpoints.ts';
import { WEBHOOK_HEADERS, sealWebhookBody, signWebhook, type WebhookEvent } from './envelope.ts';

/**
 * Delays before each retry: 1 min, 5 min, 15 min, 1 h, 3 h, 6 h, 12 h, 24 h. A partner down for
 * up to about two days still gets every event; after the last retry the delivery is dead.
 */
export const WEBHOOK_RETRY_SCHEDULE_MS = [60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000] as const;
/** The first attempt plus one per scheduled retry. */
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_SCHEDULE_MS.length + 1;
/** One attempt's whole request, connection to response headers. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Response bytes read (for the error note); the rest is discarded. */
const RESPONSE_NOTE_MAX_BYTES = 512;
const LAST_ERROR_MAX_CHARS = 500;

export function webhookRetryDelayMs(attempt: number): number {
  return WEBHOOK_RETRY_SCHEDULE_MS[Math.min(attempt, WEBHOOK_RETRY_SCHEDULE_MS.length) - 1]!;
}

class DeliveryFailed extends Error {
  override name = 'DeliveryFailed';
}

async function responseNote(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < RESPONSE_NOTE_MAX_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_NOTE_MAX_BYTES).toString('utf8').replace(/\s+/g, ' ').trim();
}

/**
 * One attempt of delivery `deliveryId`. Success (any 2xx) marks it delivered. Failure (another
 * status, a timeout, a refused connection, a redirect: the signed body goes to the configured URL
 * only) records the attempt and throws, so the job runner retries after webhookRetryDelayMs; the
 * last failure marks the delivery dead. A disabled endpoint ends the delivery dead at once.
 * Partners may see an event twice (a crash between their answer and our record): they dedupe on
 * X-Wecard-Event-Id.
 */
export async function deliverJob(ctx: AppContext, payload: { deliveryId: string }, job: JobContext): Promise<void> {
  const d = await ctx.db.selectFrom('notify_webhook_deliveries').selectAll().where('id', '=', payload.deliveryId).executeTakeFirst();
  if (!d || d.status !== 'pending') return;
  const endpoint = await endpointWithKeys(ctx.db, ctx.crypto, d.endpoint_id);
  const event = await ctx.db.selectFrom('notify_events').selectAll().where('id', '=', d.event_id).executeTakeFirstOrThrow();
  const now = job.now;
  if (!endpoint || endpoint.disabledAt !== null) {
    await ctx.db
      .updateTable('notify_webhook_deliveries')
      .set({ status: 'dead', dead_at: now, last_error: 'endpoint disabled' })
      .where('id', '=', d.id)
      .where('status', '=', 'pending')
      .execute();
    return;
  }

  const body: WebhookEvent = { id: event.id, type: event.type, createdAt: event.created_at.toISOString(), data: event.data };
  const sealed = sealWebhookBody(endpoint.keys.aes, body);
  const timestamp = String(Math.floor(now.getTime() / 1000));
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(endpoint.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'wecard-webhooks/1',
        [WEBHOOK_HEADERS.signature]: signWebhook(endpoint.keys.hmac, timestamp, sealed),
        [WEBHOOK_HEADERS.timestamp]: timestamp,
        [WEBHOOK_HEADERS.eventId]: event.id,
        [WEBHOOK_HEADERS.eventType]: event.type,
        [WEBHOOK_HEADERS.deliveryId]: d.id,
      },
      body: sealed,
    });
    status = res.status;
    const note = await responseNote(res);
    if (status < 200 || status >= 300) error = `HTTP ${status}${note ? `: ${note}` : ''}`;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    error = e.name === 'TimeoutError' ? `timed out after ${WEBHOOK_TIMEOUT_MS} ms` : `${e.cause?.code ?? e.name}: ${e.message}`;
  }

  const ok = error === null;
  const last = !ok && job.attempts >= WEBHOOK_MAX_ATTEMPTS;
  await ctx.db
    .updateTable('notify_webhook_deliveries')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_attempt_at: now,
      last_status_code: status,
      last_error: error?.slice(0, LAST_ERROR_MAX_CHARS) ?? null,
      ...(ok ? { status: 'delivered' as const, delivered_at: now } : {}),
      ...(last ? { status: 'dead' as const, dead_at: now } : {}),
    }))
    .where('id', '=', d.id)
    .where('status', '=', 'pending')
    .execute();
  const logFields = { tenantId: d.tenant_id, deliveryId: d.id, endpointId: d.endpoint_id, eventId: event.id, attempt: job.attempts, status };
  if (ok) {
    ctx.log.info(logFields, 'webhook delivered');
    return;
  }
  if (last) ctx.log.warn({ ...logFields, error }, 'webhook delivery failed for the last time; dead letter kept for replay');
  throw new DeliveryFailed(error!);
}
