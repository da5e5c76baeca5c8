// Handles one verified push once: claims it, runs the handler against the 5-second rule, keeps the reply for retries, defers late answers.
import type { AppContext } from '../../app/context.ts';
import { inTx } from '../../db/tx.ts';
import type { ClaimBatcher } from './claims.ts';
import { deferMessage, finishMessage } from './store.ts';
import type { OaTenant } from './tenant-cache.ts';
import type { OaDeadline, OaInbound, OaMessageHandler, OaReply } from './types.ts';
import type { VerifiedPush } from './verify.ts';
import { assertReply, buildPassiveReply, replyAsText } from './wire.ts';

/**
 * WeChat drops the connection after 5 s and retries (WECHAT.md §1.6). The handler gets this much
 * of it; the rest covers recording the outcome, encryption and the network.
 */
export const OA_REPLY_DEADLINE_MS = 4_500;

/** How a push was answered, for metrics and tests. */
export type PushOutcome = 'replied' | 'success' | 'duplicate_replied' | 'duplicate_success' | 'deferred' | 'failed';

export interface HandleOptions {
  onMessage: OaMessageHandler;
  replyDeadlineMs: number;
  claims: ClaimBatcher;
}

class PushDeadline implements OaDeadline {
  #controller: AbortController | undefined;
  #expired = false;

  constructor(readonly at: number) {}

  // Made on first use: most handlers answer at once and never look.
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#expired) this.#controller.abort(new Error('the passive-reply window closed'));
    }
    return this.#controller.signal;
  }

  expire(): void {
    this.#expired = true;
    this.#controller?.abort(new Error('the passive-reply window closed'));
  }
}

type Settled<T> = { inTime: true; ok: true; value: T } | { inTime: true; ok: false; error: unknown } | { inTime: false };

function within<T>(work: Promise<T>, ms: number): Promise<Settled<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ inTime: false }), Math.max(0, ms));
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve({ inTime: true, ok: true, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ inTime: true, ok: false, error });
      },
    );
  });
}

function logFailure(ctx: AppContext, msg: OaInbound, err: unknown): void {
  // The message itself is never logged: it is the cardholder's words.
  ctx.log.error({ err, tenantId: msg.tenantId, msgType: msg.msgType }, 'OA message handler failed; answered success');
}

/** After the window closed: the reply, if any, goes out as a customer-service message through the outbox. */
async function finishLate(ctx: AppContext, msg: OaInbound, dedupKey: string, result: { ok: true; value: OaReply | undefined } | { ok: false; error: unknown }): Promise<void> {
  const now = ctx.clock.now();
  if (!result.ok) {
    logFailure(ctx, msg, result.error);
    await finishMessage(ctx.db, msg.tenantId, dedupKey, { state: 'failed', reply: null, now });
    return;
  }
  if (!result.value) {
    await finishMessage(ctx.db, msg.tenantId, dedupKey, { state: 'replied', reply: null, now });
    return;
  }
  let content: string;
  try {
    assertReply(result.value);
    content = replyAsText(result.value);
  } catch (err) {
    logFailure(ctx, msg, err);
    await finishMessage(ctx.db, msg.tenantId, dedupKey, { state: 'failed', reply: null, now });
    return;
  }
  await inTx(ctx.db, (tx) => deferMessage(tx, msg.tenantId, dedupKey, { tenantId: msg.tenantId, openid: msg.openid, content }, now));
  ctx.log.info({ tenantId: msg.tenantId, msgType: msg.msgType }, 'OA reply missed the passive window; sending it as a customer-service message');
}

/**
 * Records the outcome before answering, so a retry finds it. If that fails the answer still goes
 * out: the user gets it, and a retry (only if this answer is lost) would get `success`.
 */
async function record(ctx: AppContext, opts: HandleOptions, msg: OaInbound, dedupKey: string, outcome: { state: 'replied' | 'failed'; reply: string | null; now: Date }): Promise<void> {
  try {
    await opts.claims.finish(msg.tenantId, dedupKey, outcome);
  } catch (err) {
    ctx.log.error({ err, tenantId: msg.tenantId }, 'recording an OA reply failed; answering anyway');
  }
}

/**
 * The plaintext passive reply to send (XML or JSON), or undefined for `success`. Exactly one
 * delivery of a message, across retries and instances, runs the handler; the others get the
 * stored reply, or `success` while it is still being worked on or when it went out later.
 */
export async function handlePush(
  ctx: AppContext,
  opts: HandleOptions,
  tenant: OaTenant,
  push: VerifiedPush,
  receivedAtMs: number,
): Promise<{ plaintext: string | undefined; outcome: PushOutcome }> {
  const { msg, dedupKey } = push;
  const claim = await opts.claims.claim(tenant.tenantId, dedupKey, ctx.clock.now());
  if (!claim.fresh) {
    if (claim.state === 'replied' && claim.reply !== null) return { plaintext: claim.reply, outcome: 'duplicate_replied' };
    return { plaintext: undefined, outcome: 'duplicate_success' };
  }

  const deadline = new PushDeadline(receivedAtMs + opts.replyDeadlineMs);
  // Promise.resolve().then: a handler that throws synchronously is a rejected promise like any other.
  const work = Promise.resolve().then(() => opts.onMessage(ctx, msg, deadline));
  const settled = await within(work, deadline.at - Date.now());

  if (!settled.inTime) {
    deadline.expire();
    work.then(
      (value) => finishLate(ctx, msg, dedupKey, { ok: true, value }),
      (error: unknown) => finishLate(ctx, msg, dedupKey, { ok: false, error }),
    ).catch((err: unknown) => ctx.log.error({ err, tenantId: msg.tenantId }, 'recording a late OA reply failed'));
    return { plaintext: undefined, outcome: 'deferred' };
  }

  const now = ctx.clock.now();
  let plaintext: string | undefined;
  try {
    if (!settled.ok) throw settled.error;
    plaintext = settled.value ? buildPassiveReply(settled.value, { openid: msg.openid, accountId: msg.accountId, createTime: Math.floor(now.getTime() / 1000) }, push.format) : undefined;
  } catch (err) {
    logFailure(ctx, msg, err);
    await record(ctx, opts, msg, dedupKey, { state: 'failed', reply: null, now });
    return { plaintext: undefined, outcome: 'failed' };
  }
  await record(ctx, opts, msg, dedupKey, { state: 'replied', reply: plaintext ?? null, now });
  return { plaintext, outcome: plaintext === undefined ? 'success' : 'replied' };
}
