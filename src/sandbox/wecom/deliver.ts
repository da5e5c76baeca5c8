// Sends a WeCom event to the wecard server as WeCom does: encrypted for the corp, signed, POSTed, retried on failure.
import { randomInt } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import type { JobContext } from '../../app/jobs.ts';
import { getCredentials } from '../../tenants/index.ts';
import { MsgCrypto } from '../../wechat/crypto/msg-crypto.ts';
import { buildXml } from '../../wechat/xml.ts';
import { findDelivery, recordAttempt } from './store.ts';

export const DELIVER_EVENT_TOPIC = 'sandbox.wecom.deliver_event';
/** WeCom waits 5 s for the answer, then counts the attempt as failed. */
export const DELIVERY_TIMEOUT_MS = 5_000;
/** After the first attempt fails, WeCom retries three times. */
export const DELIVERY_RETRIES = 3;
export const DELIVERY_RETRY_DELAY_MS = 5_000;
const ERROR_TEXT_MAX_CHARS = 300;

export interface DeliveryOutcome {
  delivered: boolean;
  /** The server's HTTP status, or null when it did not answer. */
  status: number | null;
}

/**
 * One attempt: encrypts the stored event XML with the tenant's WeCom key (receive id = corp id), signs
 * it with a fresh timestamp and nonce and POSTs it to `${sandboxServerUrl}/wechat/wecom/{tenantId}`.
 * HTTP 200 is success, anything else a failure ("http头部返回200表示接收ok，其他错误码一律当做失败").
 */
export async function attemptDelivery(ctx: AppContext, deliveryId: string): Promise<DeliveryOutcome> {
  const row = await findDelivery(ctx.db, deliveryId);
  if (!row) throw new Error(`no sandbox WeCom delivery ${deliveryId}`);
  if (row.delivered_at) return { delivered: true, status: row.last_status };
  const wecom = (await getCredentials(ctx.db, ctx.crypto, row.tenant_id))?.wecom;
  if (!wecom) throw new Error(`tenant ${row.tenant_id} has no WeCom credentials`);
  const crypto = new MsgCrypto(wecom.token, wecom.encodingAESKey, wecom.corpId);
  const timestamp = String(Math.floor(ctx.clock.now().getTime() / 1000));
  const nonce = String(randomInt(100_000_000, 2_000_000_000));
  const encrypt = crypto.encrypt(row.message);
  const query = new URLSearchParams({ msg_signature: crypto.signature(timestamp, nonce, encrypt), timestamp, nonce });
  const url = `${ctx.config.sandboxServerUrl}/wechat/wecom/${encodeURIComponent(row.tenant_id)}?${query.toString()}`;
  let status: number | null = null;
  let error: string | null = null;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: buildXml({ ToUserName: wecom.corpId, Encrypt: encrypt }),
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    status = res.status;
    await res.arrayBuffer();
    if (status !== 200) error = `server answered HTTP ${status}`;
  } catch (err) {
    error = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, ERROR_TEXT_MAX_CHARS);
  }
  const delivered = status === 200;
  await recordAttempt(ctx.db, deliveryId, { status, error, delivered, now: ctx.clock.now() });
  if (!delivered) ctx.log.warn({ deliveryId, tenantId: row.tenant_id, status }, 'sandbox WeCom event delivery failed');
  return { delivered, status };
}

/** The retry job: a no-op once delivered, otherwise one more attempt; throwing schedules the next. */
export async function deliverEventJob(ctx: AppContext, payload: { deliveryId: string }, _job: JobContext): Promise<void> {
  const outcome = await attemptDelivery(ctx, payload.deliveryId);
  if (!outcome.delivered) throw new Error(`WeCom event not accepted (HTTP ${outcome.status ?? 'none'})`);
}
