// A simulated WeChat user scans a contact way's QR code: becomes an external contact and WeCom tells the server.
import { randomBytes, randomInt } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { enqueueJob } from '../../app/jobs.ts';
import { inTx } from '../../db/tx.ts';
import { getCredentials } from '../../tenants/index.ts';
import { newId } from '../../shared/ids.ts';
import { buildXml, type XmlField } from '../../wechat/xml.ts';
import { attemptDelivery, DELIVER_EVENT_TOPIC, DELIVERY_RETRY_DELAY_MS, type DeliveryOutcome } from './deliver.ts';
import { findContactWay, insertDelivery, insertExternalContact, insertWelcomeCode } from './store.ts';

/** A welcome code works for 20 s after the event ("仅可在收到相关事件后20秒内调用"). */
export const WELCOME_CODE_TTL_MS = 20_000;
/** Fault switch: how many copies of the event one scan may send at once (WeCom does repeat events). */
export const SCAN_REPEAT_MAX = 5;

export interface ScanResult {
  externalUserId: string;
  userId: string;
  state: string | null;
  /** The first copy's outcome; a failed delivery is retried by a background job. */
  delivery: DeliveryOutcome;
}

/** `wm` + 28 base64url characters, the shape of WeCom's external userids. */
function newExternalUserId(): string {
  return `wm${randomBytes(21).toString('base64url')}`;
}

export async function scanContactWay(ctx: AppContext, configId: string, input: { externalUserName?: string; repeat?: number }): Promise<ScanResult> {
  const way = await findContactWay(ctx.db, configId);
  if (!way) throw new AppError('not_found', 'no such contact way');
  if (way.deleted_at) throw new AppError('conflict', 'the contact way was deleted; its QR code no longer works');
  const wecom = (await getCredentials(ctx.db, ctx.crypto, way.tenant_id))?.wecom;
  if (!wecom) throw new AppError('conflict', 'the tenant has no WeCom app');
  // Type 2 contact ways hand the customer to one of their members.
  const userId = way.user_ids[way.type === 1 ? 0 : randomInt(way.user_ids.length)]!;
  const now = ctx.clock.now();
  const externalUserId = newExternalUserId();
  const welcomeCode = randomBytes(32).toString('base64url');
  const deliveryId = newId('wcd');
  // WeCom's add_external_contact event (WECHAT-VECTORS.md §5.3); State only when the contact way has one.
  const fields: Record<string, XmlField> = {
    ToUserName: wecom.corpId,
    FromUserName: 'sys',
    CreateTime: Math.floor(now.getTime() / 1000),
    MsgType: 'event',
    Event: 'change_external_contact',
    ChangeType: 'add_external_contact',
    UserID: userId,
    ExternalUserID: externalUserId,
    ...(way.state ? { State: way.state } : {}),
    WelcomeCode: welcomeCode,
  };
  await inTx(ctx.db, async (tx) => {
    await insertExternalContact(tx, {
      external_user_id: externalUserId,
      tenant_id: way.tenant_id,
      user_id: userId,
      name: input.externalUserName ?? `微信用户${randomInt(1000, 10_000)}`,
      config_id: way.config_id,
      state: way.state,
      added_at: now,
      remark: null,
      description: null,
      remarked_at: null,
    });
    await insertWelcomeCode(tx, {
      code: welcomeCode,
      tenant_id: way.tenant_id,
      external_user_id: externalUserId,
      user_id: userId,
      issued_at: now,
      expires_at: new Date(now.getTime() + WELCOME_CODE_TTL_MS),
      used_at: null,
      content: null,
    });
    await insertDelivery(tx, { id: deliveryId, tenant_id: way.tenant_id, message: buildXml(fields), created_at: now, delivered_at: null, last_status: null, last_error: null });
    // The retry, written before the first attempt so a crash between the two loses nothing.
    await enqueueJob(tx, { topic: DELIVER_EVENT_TOPIC, payload: { deliveryId }, runAfter: new Date(now.getTime() + DELIVERY_RETRY_DELAY_MS) });
  });
  const copies = Math.min(Math.max(input.repeat ?? 1, 1), SCAN_REPEAT_MAX);
  const outcomes = await Promise.all(Array.from({ length: copies }, () => attemptDelivery(ctx, deliveryId)));
  return { externalUserId, userId, state: way.state, delivery: outcomes.find((o) => o.delivered) ?? outcomes[0]! };
}
