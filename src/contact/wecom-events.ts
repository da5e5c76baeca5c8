// The WeCom callback handlers: a customer added an agent through a bill's contact way (state → bill), or ended the relationship.
import type { AppContext } from '../app/context.ts';
import { enqueueJob } from '../app/jobs.ts';
import type { Tx } from '../db/tx.ts';
import { newId } from '../shared/ids.ts';
import type { AddExternalContactEvent, WecomEvent } from '../wechat/wecom/index.ts';
import { AFTER_ADD_TOPIC, CONTEXT_EXPIRE_TOPIC } from './jobs.ts';
import { markStep } from './funnel.ts';
import { CONTEXT_TTL_MS } from './policy.ts';
import { contextsBetween, insertContext, pendingByState, updateRequest } from './store.ts';
import { maskOpaqueId } from './texts.ts';

/** The customer's WeCom id in a log line: enough to correlate, not to identify. */
export const maskExternal = (id: string) => (id.length > 8 ? `${id.slice(0, 4)}…${id.slice(-4)}` : '****');

/**
 * add_external_contact, once per event, in the transaction that records it (WeCom retries and
 * replays change nothing). The state must name a request still waiting for its add, with the same
 * agent, within its 30 minutes; then the request is used up (a second scan of a forwarded QR code
 * gets no bill), the 72-hour context opens, and the WeCom calls (welcome message, remark, deleting
 * the contact way) go to a job after commit.
 */
export async function onAddExternalContact(ctx: AppContext, tx: Tx, event: AddExternalContactEvent): Promise<void> {
  if (!event.state) return;
  const now = ctx.clock.now();
  const r = await pendingByState(tx, event.tenantId, event.state);
  const log = { tenantId: event.tenantId, agent: event.userId, externalUser: maskExternal(event.externalUserId) };
  if (!r) {
    ctx.log.info(log, 'WeCom add with a state that names no bill (used, expired or not ours)');
    return;
  }
  if (r.status !== 'pending' || r.expires_at.getTime() <= now.getTime() || r.agent_user_id !== event.userId || !r.snapshot) {
    ctx.log.info({ ...log, contactId: r.id, status: r.status }, 'WeCom add ignored: the contact request is no longer waiting for it');
    return;
  }
  const contextId = newId('csx');
  const expiresAt = new Date(now.getTime() + CONTEXT_TTL_MS);
  await updateRequest(tx, r.id, { status: 'added', state: null, snapshot: null, added_at: now, external_user_id: event.externalUserId });
  await insertContext(tx, {
    id: contextId,
    tenant_id: r.tenant_id,
    request_id: r.id,
    external_user_id: event.externalUserId,
    agent_user_id: event.userId,
    snapshot: typeof r.snapshot === 'string' ? r.snapshot : JSON.stringify(r.snapshot),
    opened_at: now,
    expires_at: expiresAt,
    first_message_at: null,
  });
  await markStep(tx, { tenantId: r.tenant_id, userId: r.user_id, billKey: r.bill_key }, 'added', now);
  await enqueueJob(tx, { topic: AFTER_ADD_TOPIC, payload: { requestId: r.id, welcomeCode: event.welcomeCode ?? null, eventAt: event.createTime.toISOString() }, dedupeKey: `${AFTER_ADD_TOPIC}:${r.id}` });
  await enqueueJob(tx, { topic: CONTEXT_EXPIRE_TOPIC, payload: { contextId }, dedupeKey: `${CONTEXT_EXPIRE_TOPIC}:${contextId}`, runAfter: expiresAt });
  ctx.log.info({ ...log, contactId: r.id, user: maskOpaqueId(r.user_id) }, 'customer added customer service from a bill');
}

/** Change types after which the member and the customer are no longer connected. */
const ENDED = new Set(['del_external_contact', 'del_follow_user']);

/**
 * Other events: when the customer deletes the member or the member deletes the customer, the bill
 * context between them goes at once (PIPL art. 47: the purpose is over), not after 72 hours.
 */
export async function onEvent(ctx: AppContext, tx: Tx, event: WecomEvent): Promise<void> {
  if (event.event !== 'change_external_contact' || !event.changeType || !ENDED.has(event.changeType)) return;
  const agent = event.fields.UserID;
  const external = event.fields.ExternalUserID;
  if (!agent || !external) return;
  const contexts = await contextsBetween(tx, event.tenantId, agent, external);
  if (contexts.length === 0) return;
  await tx.deleteFrom('contact_contexts').where('id', 'in', contexts.map((c) => c.id)).execute();
  for (const c of contexts) await updateRequest(tx, c.request_id, { external_user_id: null, closed_at: ctx.clock.now() });
  ctx.log.info({ tenantId: event.tenantId, agent, externalUser: maskExternal(external), closed: contexts.length }, 'bill contexts closed: the WeCom relationship ended');
}

/** For `wecomCallbacks(contactWecomHandlers())` in src/app/modules.ts. */
export function contactWecomHandlers(): { onAddExternalContact: typeof onAddExternalContact; onEvent: typeof onEvent } {
  return { onAddExternalContact, onEvent };
}
