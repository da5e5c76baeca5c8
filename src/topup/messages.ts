// Top-up result and delay messages to the user: OA template messages sent by a job after the change they announce commits.
import type { AppContext } from '../app/context.ts';
import { enqueueJob, type JobOptions, type NewJob } from '../app/jobs.ts';
import type { Tx } from '../db/tx.ts';
import { listOpenids } from '../identity/index.ts';
import { sendTemplateMessage, WechatApiError } from '../wechat/api/index.ts';
import { arrivalText } from './calendar.ts';
import { yuanText } from './policy.ts';
import { getOrder, type Order } from './store.ts';
import { getTopupSettings } from './settings.ts';

export const MESSAGE_TOPIC = 'topup.message';

export type MessageKind = 'result' | 'delay' | 'load_pending' | 'review' | 'refunded' | 'failed';

/** Sending a message is worth a few tries (token refresh, a platform hiccup), not a day of them. */
export const MESSAGE_JOB_OPTIONS: Partial<JobOptions> = { maxAttempts: 5, retryDelayMs: (n) => Math.min(5_000 * 2 ** (n - 1), 300_000) };

/** WeChat answers that no retry can fix: not a follower (43004), blocked, invalid openid or template. */
const PERMANENT_ERRCODES = new Set([43004, 43019, 40003, 40037, 47003]);

/** Announces a message about the order, once per kind, in the caller's transaction. */
export async function enqueueMessage(tx: Tx, orderId: string, kind: MessageKind): Promise<void> {
  await enqueueJob(tx, messageJobOf(orderId, kind));
}

/** The job enqueueMessage writes (for callers that write several jobs in one statement). */
export function messageJobOf(orderId: string, kind: MessageKind): NewJob {
  return { topic: MESSAGE_TOPIC, payload: { orderId, kind }, dedupeKey: `${MESSAGE_TOPIC}:${orderId}:${kind}` };
}

const HEADLINES: Record<MessageKind, string> = {
  result: '您的市民卡充值已到账',
  delay: '您的市民卡充值已受理，资金将稍后到账',
  load_pending: '充值已支付，请到自助终端或用手机NFC完成圈存',
  review: '您的充值正在人工核实中，我们将在2小时内处理',
  refunded: '您的充值款已原路退回',
  failed: '您的充值订单未支付，已关闭',
};

/** The message text for an order (pure): amounts in yuan, the card masked, times in Shanghai. */
export function messageData(order: Order, kind: MessageKind, now: Date): Record<string, { value: string }> {
  const status =
    kind === 'delay' && order.expected_arrival
      ? `预计${arrivalText(order.expected_arrival, now)}前到账`
      : kind === 'load_pending' && order.load_deadline
        ? `请于${arrivalText(order.load_deadline, now)}前圈存`
        : kind === 'refunded'
          ? `已退款${yuanText(order.refunded_fen)}元`
          : HEADLINES[kind];
  return {
    first: { value: HEADLINES[kind] },
    keyword1: { value: `${yuanText(order.amount_fen)}元` },
    keyword2: { value: order.card_masked },
    keyword3: { value: status },
    remark: { value: `订单号 ${order.id}` },
  };
}

/** The job: to each OA follower identity of the payer. A user known only in the mini-program gets none (no OA openid). */
export async function messageJob(ctx: AppContext, payload: { orderId: string; kind: MessageKind }): Promise<void> {
  const order = await getOrder(ctx.db, payload.orderId);
  if (!order) return;
  const settings = await getTopupSettings(ctx.db, order.tenant_id);
  const templateId = payload.kind === 'result' || payload.kind === 'refunded' || payload.kind === 'failed' ? settings.resultTemplateId : settings.delayTemplateId;
  const openids = (await listOpenids(ctx.db, order.user_id)).filter((o) => o.appKind === 'oa');
  if (openids.length === 0) {
    ctx.log.info({ orderId: order.id, kind: payload.kind }, 'top-up message not sent: the payer has no Official Account identity');
    return;
  }
  const data = messageData(order, payload.kind, ctx.clock.now());
  for (const o of openids) {
    try {
      await sendTemplateMessage(ctx, order.tenant_id, { touser: o.openid, templateId, data, clientMsgId: `${order.id}-${payload.kind}`.slice(0, 64) });
    } catch (err) {
      if (err instanceof WechatApiError && PERMANENT_ERRCODES.has(err.errcode)) {
        ctx.log.info({ orderId: order.id, kind: payload.kind, errcode: err.errcode }, 'top-up message refused by WeChat; not retried');
        continue;
      }
      throw err;
    }
  }
}
