// Background work of the contact module: WeCom calls after an add, the 30-minute purge of unused states, context and emergency expiry, retention.
import type { AppContext } from '../app/context.ts';
import type { JobContext } from '../app/jobs.ts';
import { inTx } from '../db/tx.ts';
import { WechatApiError } from '../wechat/api/index.ts';
import { deleteContactWay, remarkExternalContact, sendWelcomeMessage } from '../wechat/wecom/index.ts';
import { findAgent } from './agents.ts';
import { pruneJourneys, JOURNEY_RETENTION_MS } from './funnel.ts';
import { contextOfRequest, deleteContext, deleteEmergency, getRequest, moveRequest, pruneRequests, snapshotFrom, updateRequest } from './store.ts';
import { descriptionFor, remarkFor, welcomeText } from './texts.ts';

export const AFTER_ADD_TOPIC = 'contact.after_add';
export const EXPIRE_TOPIC = 'contact.expire';
export const CONTEXT_EXPIRE_TOPIC = 'contact.context_expire';
export const EMERGENCY_EXPIRE_TOPIC = 'contact.emergency_expire';
export const PRUNE_TOPIC = 'contact.prune';

/** A welcome code works 20 s after the event (WECHAT-VECTORS.md §5.3); later attempts are skipped. */
const WELCOME_CODE_LIFE_MS = 20_000;
/** "Already delivered / chat started" and "expired": the welcome message cannot be sent any more. */
const WELCOME_GONE_ERRCODES = new Set([41050, 41051]);
/** "Invalid config_id": the contact way is already gone. */
const WAY_GONE_ERRCODE = 41044;
/** Closed requests are kept this long for support, then pruned (their journey keeps the funnel timings). */
export const REQUEST_RETENTION_MS = 180 * 86_400_000;
const PRUNE_BATCH_ROWS = 5_000;
const PRUNE_MAX_BATCHES = 20;

async function deleteWay(ctx: AppContext, tenantId: string, requestId: string, configId: string): Promise<void> {
  try {
    await deleteContactWay(ctx, tenantId, configId);
  } catch (err) {
    if (!(err instanceof WechatApiError && err.errcode === WAY_GONE_ERRCODE)) throw err;
  }
  await updateRequest(ctx.db, requestId, { way_deleted_at: ctx.clock.now() });
}

/**
 * After the add: the welcome message with the bill summary (first: its code lives 20 s), the
 * remark and description (order number and amount), then the contact way is deleted so its QR code
 * adds nobody else. Each step records its outcome, so a retry repeats only what failed.
 */
export async function afterAddJob(ctx: AppContext, payload: { requestId: string; welcomeCode: string | null; eventAt: string }, job: JobContext): Promise<void> {
  const r = await getRequest(ctx.db, payload.requestId);
  if (!r || r.status !== 'added' || !r.agent_user_id || !r.external_user_id) return;
  const context = await contextOfRequest(ctx.db, r.id);
  const snapshot = context ? snapshotFrom(context.snapshot) : undefined;
  if (snapshot && !r.welcome_sent_at && payload.welcomeCode && job.now.getTime() - new Date(payload.eventAt).getTime() <= WELCOME_CODE_LIFE_MS) {
    const agent = await findAgent(ctx.db, r.tenant_id, r.agent_user_id);
    try {
      await sendWelcomeMessage(ctx, r.tenant_id, { welcomeCode: payload.welcomeCode, text: welcomeText(snapshot, agent?.title ?? '') });
      await updateRequest(ctx.db, r.id, { welcome_sent_at: ctx.clock.now() });
    } catch (err) {
      if (!(err instanceof WechatApiError && WELCOME_GONE_ERRCODES.has(err.errcode))) throw err;
      ctx.log.info({ tenantId: r.tenant_id, contactId: r.id, errcode: err.errcode }, 'welcome message no longer possible');
    }
  }
  if (snapshot && !r.remarked_at) {
    await remarkExternalContact(ctx, r.tenant_id, { userId: r.agent_user_id, externalUserId: r.external_user_id, remark: remarkFor(snapshot), description: descriptionFor(snapshot) });
    await updateRequest(ctx.db, r.id, { remarked_at: ctx.clock.now() });
  }
  if (r.config_id && !r.way_deleted_at) await deleteWay(ctx, r.tenant_id, r.id, r.config_id);
}

/**
 * 30 minutes after the QR code (or 2 hours after a queue entry): an unused request is closed, its
 * state and bill snapshot are erased at once (a late add finds nothing), then the contact way is
 * deleted at WeCom. A request whose time was extended (a queue entry that got its QR code) is left
 * to the job of its new time.
 */
export async function expireJob(ctx: AppContext, payload: { requestId: string }, job: JobContext): Promise<void> {
  const r = await inTx(ctx.db, async (tx) => {
    const row = await getRequest(tx, payload.requestId, { lock: true });
    if (!row) return undefined;
    if ((row.status === 'creating' || row.status === 'pending' || row.status === 'queued') && row.expires_at.getTime() <= job.now.getTime()) {
      return moveRequest(tx, row.id, [row.status], { status: 'expired', state: null, snapshot: null, watermark: null, closed_at: job.now });
    }
    return row.status === 'expired' ? row : undefined;
  });
  if (r?.config_id && !r.way_deleted_at) await deleteWay(ctx, r.tenant_id, r.id, r.config_id);
}

/** 72 hours after the add: the context (and with it the bill snapshot and the customer's WeCom id) goes. */
export async function contextExpireJob(ctx: AppContext, payload: { contextId: string }, job: JobContext): Promise<void> {
  const gone = await deleteContext(ctx.db, payload.contextId, job.now);
  if (gone) await updateRequest(ctx.db, gone.request_id, { external_user_id: null, closed_at: job.now });
}

export async function emergencyExpireJob(ctx: AppContext, payload: { serviceId: string }, job: JobContext): Promise<void> {
  await deleteEmergency(ctx.db, payload.serviceId, job.now);
}

/** Daily retention: closed requests after 180 days, funnel journeys after 400. */
export async function pruneJob(ctx: AppContext, _payload: unknown, job: JobContext): Promise<void> {
  for (const [prune, keepMs] of [
    [pruneRequests, REQUEST_RETENTION_MS],
    [pruneJourneys, JOURNEY_RETENTION_MS],
  ] as const) {
    const before = new Date(job.now.getTime() - keepMs);
    for (let i = 0; i < PRUNE_MAX_BATCHES; i++) if ((await prune(ctx.db, before, PRUNE_BATCH_ROWS)) < PRUNE_BATCH_ROWS) break;
  }
}

/** Registers the module's job handlers on the instance's runner (once per context). */
export function registerContactJobs(ctx: AppContext): void {
  if (ctx.jobs.topics().includes(AFTER_ADD_TOPIC)) return;
  // The welcome code dies 20 s after the event: retry fast, and not for long.
  ctx.jobs.register(AFTER_ADD_TOPIC, afterAddJob, { maxAttempts: 8, retryDelayMs: (n) => Math.min(1_000 * 2 ** (n - 1), 60_000) });
  ctx.jobs.register(EXPIRE_TOPIC, expireJob);
  ctx.jobs.register(CONTEXT_EXPIRE_TOPIC, contextExpireJob);
  ctx.jobs.register(EMERGENCY_EXPIRE_TOPIC, emergencyExpireJob);
  ctx.jobs.register(PRUNE_TOPIC, pruneJob, { maxAttempts: 3 });
}
