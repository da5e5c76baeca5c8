// Use cases of the WeCom callback URL: URL verification (the signed, encrypted echostr) and receiving a message or event once.
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { enqueueJob } from '../../app/jobs.ts';
import { inTx, type Tx } from '../../db/tx.ts';
import { getCredentials } from '../../tenants/index.ts';
import { MAX_ENCRYPTED_CHARS, MsgCrypto, signatureMatches } from '../crypto/msg-crypto.ts';
import { optionalField, parseWechatXml, requireField } from '../xml.ts';
import { parseCallback, type AddExternalContactEvent, type WecomEvent } from './events.ts';
import { dedupeKey, timestampWithinWindow } from './policy.ts';
import { recordEventOnce } from './store.ts';
import { PRUNE_EVENTS_TOPIC } from './jobs.ts';

export interface CallbackQuery {
  msg_signature: string;
  timestamp: string;
  nonce: string;
}

/**
 * What runs, once per event, inside the transaction that records it. Keep it to database work and
 * `enqueueJob`: WeCom waits 5 s and then retries, so calls to WeCom (welcome message, remark) go to a job.
 */
export interface CallbackHandlers {
  onAddExternalContact(ctx: AppContext, tx: Tx, event: AddExternalContactEvent): Promise<void>;
  onEvent(ctx: AppContext, tx: Tx, event: WecomEvent): Promise<void>;
}

interface TenantWecom {
  corpId: string;
  crypto: MsgCrypto;
}

/** The tenant's WeCom crypto; receive id = corp id (WECHAT.md §5). Unknown tenant or no WeCom app: not_found. */
async function tenantWecom(ctx: AppContext, tenantId: string): Promise<TenantWecom> {
  const creds = await getCredentials(ctx.db, ctx.crypto, tenantId);
  if (!creds?.wecom) throw new AppError('not_found', 'no WeCom app is configured here');
  const { corpId, token, encodingAESKey } = creds.wecom;
  return { corpId, crypto: new MsgCrypto(token, encodingAESKey, corpId) };
}

/** Timestamp window first (a replay of an old, correctly signed request), then msg_signature. */
function assertSigned(ctx: AppContext, app: TenantWecom, q: CallbackQuery, encrypted: string): void {
  if (!timestampWithinWindow(q.timestamp, ctx.clock.now())) throw new AppError('unauthenticated', 'timestamp is too far from now');
  if (!signatureMatches(app.crypto.signature(q.timestamp, q.nonce, encrypted), q.msg_signature)) {
    throw new AppError('unauthenticated', 'msg_signature does not match');
  }
}

/**
 * `GET ?msg_signature&timestamp&nonce&echostr`: unlike the Official Account's, WeCom's echostr is
 * signed and encrypted; the answer is its decrypted plaintext, nothing added.
 */
export async function verifyCallbackUrl(ctx: AppContext, tenantId: string, q: CallbackQuery & { echostr: string }): Promise<string> {
  const app = await tenantWecom(ctx, tenantId);
  // A "+" sent unencoded arrives as a space; base64 never contains one.
  const echostr = q.echostr.replaceAll(' ', '+');
  assertSigned(ctx, app, q, echostr);
  return app.crypto.decrypt(echostr).message;
}

/**
 * `POST ?msg_signature&timestamp&nonce` with `<xml><ToUserName/><Encrypt/>…</xml>`: checks, decrypts
 * (refusing another corp's message), parses, then records the event and runs its handler in one
 * transaction. A repeat of a recorded event changes nothing; a handler that throws rolls the record
 * back, so WeCom's retry runs it again.
 */
export async function receiveCallback(
  ctx: AppContext,
  tenantId: string,
  q: CallbackQuery,
  body: Buffer,
  handlers: CallbackHandlers,
): Promise<{ duplicate: boolean }> {
  const app = await tenantWecom(ctx, tenantId);
  const envelope = parseWechatXml(body);
  const encrypted = requireField(envelope, 'Encrypt', { maxLength: MAX_ENCRYPTED_CHARS });
  assertSigned(ctx, app, q, encrypted);
  const addressee = optionalField(envelope, 'ToUserName');
  if (addressee !== undefined && addressee !== app.corpId) throw new AppError('forbidden', 'the event is addressed to another corp');
  // Decryption also refuses a message encrypted for another corp id (receive id), with forbidden.
  const { message } = app.crypto.decrypt(encrypted);
  const parsed = parseCallback(tenantId, app.corpId, parseWechatXml(message));
  const base = parsed.kind === 'add_external_contact' ? parsed.base : parsed.event;
  const add = parsed.kind === 'add_external_contact' ? parsed.event : undefined;
  const now = ctx.clock.now();
  const recorded = await inTx(ctx.db, async (tx) => {
    const fresh = await recordEventOnce(tx, {
      tenant_id: tenantId,
      dedupe_key: dedupeKey(base.fields),
      msg_type: base.msgType,
      event: base.event ?? null,
      change_type: base.changeType ?? null,
      user_id: add?.userId ?? base.fields.UserID ?? null,
      external_user_id: add?.externalUserId ?? base.fields.ExternalUserID ?? null,
      state: add?.state ?? null,
      welcome_code: add?.welcomeCode ?? null,
      create_time: base.createTime,
      received_at: now,
    });
    if (!fresh) return false;
    // One retention pass a day, announced by the day's first event.
    await enqueueJob(tx, { topic: PRUNE_EVENTS_TOPIC, payload: {}, dedupeKey: `${PRUNE_EVENTS_TOPIC}:${now.toISOString().slice(0, 10)}` });
    if (add) await handlers.onAddExternalContact(ctx, tx, add);
    else await handlers.onEvent(ctx, tx, base);
    return true;
  });
  if (!recorded) ctx.log.info({ tenantId, msgType: base.msgType, event: base.event }, 'repeated WeCom callback ignored');
  return { duplicate: !recorded };
}
