// OA background jobs: late replies sent as customer-service messages, and purging de-duplication claims past their use.
import type { AppContext } from '../../app/context.ts';
import { enqueueJob, type JobOptions } from '../../app/jobs.ts';
import { sendCustomText, WechatApiError, type ErrcodeClass } from '../api/index.ts';
import { CUSTOM_REPLY_TOPIC, purgeMessages, type CustomReplyPayload } from './store.ts';
import { OA_TIMESTAMP_WINDOW_MS } from './verify.ts';

export const PURGE_TOPIC = 'oa.purge';

/**
 * A claim must outlive every request that could still repeat it: a push is accepted while its
 * signed timestamp is within the window of now, so twice the window after first receipt is the
 * latest a replay can arrive; the rest is margin.
 */
export const OA_DEDUP_RETENTION_MS = 2 * OA_TIMESTAMP_WINDOW_MS + 20 * 60_000;
/** Each instance asks for a purge at most this often (one job per interval across instances). */
export const OA_PURGE_INTERVAL_MS = 10 * 60_000;
/** Rows one purge statement deletes, and statements per job run. */
export const OA_PURGE_BATCH = 5_000;
const OA_PURGE_BATCHES_PER_RUN = 20;

/**
 * Customer-service messages reach only followers within 48 h of their last message (WECHAT-VECTORS.md
 * §1.5): when WeChat says the user cannot or will not receive it, or that the message itself is
 * wrong, a retry changes nothing.
 */
const GIVE_UP: ReadonlySet<ErrcodeClass> = new Set(['user_unreachable', 'user_refused', 'user_blocked', 'bad_request']);

/** A late reply should reach the user soon or not at all: a few quick retries. */
export const CUSTOM_REPLY_JOB: Partial<JobOptions> = {
  maxAttempts: 5,
  retryDelayMs: (attempt) => Math.min(2_000 * 2 ** (attempt - 1), 60_000),
};

async function sendCustomReply(ctx: AppContext, payload: CustomReplyPayload): Promise<void> {
  try {
    await sendCustomText(ctx, payload.tenantId, payload.openid, payload.content);
  } catch (err) {
    if (err instanceof WechatApiError && GIVE_UP.has(err.kind)) {
      ctx.log.warn({ tenantId: payload.tenantId, errcode: err.errcode }, 'late OA reply dropped: WeChat will not deliver this customer-service message');
      return;
    }
    throw err;
  }
}

async function purge(ctx: AppContext): Promise<void> {
  const before = new Date(ctx.clock.now().getTime() - OA_DEDUP_RETENTION_MS);
  for (let i = 0; i < OA_PURGE_BATCHES_PER_RUN; i++) {
    if ((await purgeMessages(ctx.db, before, OA_PURGE_BATCH)) < OA_PURGE_BATCH) return;
  }
}

export function registerOaJobs(ctx: AppContext): void {
  ctx.jobs.register(CUSTOM_REPLY_TOPIC, (c, payload: CustomReplyPayload) => sendCustomReply(c, payload), CUSTOM_REPLY_JOB);
  ctx.jobs.register(PURGE_TOPIC, (c) => purge(c), { maxAttempts: 3 });
}

/**
 * Asks for a purge of old claims once per interval: the dedupe key names the interval, so however
 * many instances ask, one job runs per interval. Costs one insert per instance per interval.
 */
export function purgeScheduler(ctx: AppContext): (nowMs: number) => void {
  let nextAt = 0;
  return (nowMs) => {
    if (nowMs < nextAt) return;
    nextAt = nowMs + OA_PURGE_INTERVAL_MS;
    const bucket = Math.floor(nowMs / OA_PURGE_INTERVAL_MS);
    enqueueJob(ctx.db, { topic: PURGE_TOPIC, payload: null, dedupeKey: `${PURGE_TOPIC}:${bucket}` }).catch((err: unknown) =>
      ctx.log.warn({ err }, 'could not schedule the OA claim purge'),
    );
  };
}
