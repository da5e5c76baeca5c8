// Use cases of "contact customer service" from a bill: consent, routing, the WeCom contact way (or the human queue, or an emergency id), and the status a client polls.
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { enqueueJob } from '../app/jobs.ts';
import { inTx, sqlState, type Tx } from '../db/tx.ts';
import { hasConsent, recordAudit, setConsent } from '../audit/index.ts';
import { newId } from '../shared/ids.ts';
import { addContactWay, deleteContactWay, newContactWayState } from '../wechat/wecom/index.ts';
import { agentsWithLoad, findAgent, getContactSettings, touchAgent, type Agent } from './agents.ts';
import { resolveBill, snapshotOf, type BillSource, type ResolvedBill } from './bills.ts';
import { issueEmergency, emergencyView, type EmergencyView } from './emergency.ts';
import { markStep, recordStep } from './funnel.ts';
import { EXPIRE_TOPIC, PRUNE_TOPIC } from './jobs.ts';
import {
  CONTACTS_PER_USER_PER_DAY,
  LIVE_CONTACTS_PER_USER,
  QR_TTL_MS,
  QUEUE_TTL_MS,
  expectedWaitMinutes,
  routeBill,
  shanghaiDayStart,
  takesKind,
  type BillKind,
} from './policy.ts';
import { countUserRequests, emergencyOfRequest, getRequest, insertRequest, liveRequestFor, moveRequest, queuePosition, type RequestRow } from './store.ts';
import { maskedAgent, watermark, type MaskedAgent } from './texts.ts';

/** The contact way's own memo (≤ 30 characters): what it is for, never whose. */
const CONTACT_WAY_REMARK = '账单客服';

export interface RequestMeta {
  ip?: string;
  requestId?: string;
}

export interface ContactAnswer {
  contactId: string;
  /** ready: scan the QR code; preparing: ask again in a moment; queued: wait for an agent; emergency: quote the service id; added: done; expired: tap again. */
  status: 'ready' | 'preparing' | 'queued' | 'emergency' | 'added' | 'expired';
  qrCodeUrl: string | null;
  maskedAgent: MaskedAgent | null;
  watermark: string | null;
  expiresAt: Date;
  queue: { position: number; expectedWaitMinutes: number; opensAt: Date | null } | null;
  emergency: EmergencyView | null;
}

const expireJob = (r: Pick<RequestRow, 'id' | 'expires_at'>) => ({
  topic: EXPIRE_TOPIC,
  payload: { requestId: r.id },
  dedupeKey: `${EXPIRE_TOPIC}:${r.id}:${r.expires_at.getTime()}`,
  runAfter: r.expires_at,
});

/**
 * The QR image link as the H5 page may load it: WeCom answers `http://p.qpic.cn/…`, which an https
 * page would not show, so a link to one of the configured image origins (WECOM_QR_IMAGE_ORIGINS,
 * all https) is answered as https. Any other link is answered as stored.
 */
export function pageQrUrl(stored: string | null, imageOrigins: readonly string[]): string | null {
  if (stored === null || !stored.startsWith('http://')) return stored;
  let u: URL;
  try {
    u = new URL(stored);
  } catch {
    return stored;
  }
  u.protocol = 'https:';
  return imageOrigins.includes(u.origin) ? u.toString() : stored;
}

async function answerFor(ctx: AppContext, r: RequestRow, now: Date): Promise<ContactAnswer> {
  const base = { contactId: r.id, watermark: r.watermark, expiresAt: r.expires_at, qrCodeUrl: null, maskedAgent: null, queue: null, emergency: null };
  const agent = r.agent_user_id ? await findAgent(ctx.db, r.tenant_id, r.agent_user_id) : undefined;
  const masked = agent && r.agent_user_id ? maskedAgent({ userId: r.agent_user_id, ...agent }) : null;
  const live = r.expires_at.getTime() > now.getTime();
  if (r.status === 'pending' && live) return { ...base, status: 'ready', qrCodeUrl: pageQrUrl(r.qr_code, ctx.config.wechat.wecomQrImageOrigins), maskedAgent: masked };
  if (r.status === 'creating' && live) return { ...base, status: 'preparing', maskedAgent: masked };
  if (r.status === 'added') return { ...base, status: 'added', maskedAgent: masked };
  if (r.status === 'queued' && live) {
    const settings = await getContactSettings(ctx.db, r.tenant_id);
    const agents = await agentsWithLoad(ctx.db, r.tenant_id, now);
    const decision = routeBill({ agents, billKind: r.bill_kind, schedule: settings.schedule, now });
    const onDuty = agents.filter((a) => a.active && takesKind(a, r.bill_kind)).length;
    const opensAt = decision.kind === 'closed' ? decision.opensAt : null;
    const position = await queuePosition(ctx.db, r.tenant_id, r, now);
    return { ...base, status: 'queued', queue: { position, opensAt, expectedWaitMinutes: expectedWaitMinutes({ position, onDuty, avgHandleMinutes: settings.avgHandleMinutes, opensAt, now }) } };
  }
  if (r.status === 'emergency') {
    const e = await emergencyOfRequest(ctx.db, r.id);
    if (e && e.expires_at.getTime() > now.getTime()) return { ...base, status: 'emergency', expiresAt: e.expires_at, emergency: emergencyView(e) };
  }
  return { ...base, status: 'expired', watermark: null };
}

/** Free slots over the agents who take this kind of bill (the queue's head may go when it is within them). */
function freeSlots(agents: Agent[], kind: string): number {
  return agents.filter((a) => a.active && takesKind(a, kind)).reduce((n, a) => n + Math.max(0, a.capacity - a.load), 0);
}

/** Assigns `agent` to a request in the caller's transaction: a fresh state, 30 minutes to scan. */
async function assign(tx: Tx, r: { id: string }, agent: Agent, now: Date): Promise<RequestRow> {
  const expiresAt = new Date(now.getTime() + QR_TTL_MS);
  const row = await moveRequest(tx, r.id, ['queued', 'creating'], { status: 'creating', agent_user_id: agent.userId, state: newContactWayState(), expires_at: expiresAt });
  if (!row) throw new AppError('conflict', 'the contact request changed meanwhile; try again');
  await touchAgent(tx, row.tenant_id, agent.userId, now);
  await enqueueJob(tx, expireJob(row));
  return row;
}

/**
 * Creates the WeCom contact way for a request in `creating` (after its transaction committed) and
 * records the QR code. WeCom unreachable (or refusing): an emergency service id instead.
 */
async function openContactWay(ctx: AppContext, r: RequestRow): Promise<RequestRow> {
  let way;
  try {
    way = await addContactWay(ctx, r.tenant_id, { agentUserId: r.agent_user_id!, state: r.state!, remark: CONTACT_WAY_REMARK });
  } catch (err) {
    // Unreachable, refusing, or not configured: for the user it is all "WeCom is not available now".
    ctx.log.warn({ tenantId: r.tenant_id, contactId: r.id, err }, 'WeCom contact way not created: issuing an emergency service id');
    return issueEmergency(ctx, r);
  }
  const now = ctx.clock.now();
  const row = await inTx(ctx.db, async (tx) => {
    const moved = await moveRequest(tx, r.id, ['creating'], { status: 'pending', config_id: way.configId, qr_code: way.qrCode, qr_shown_at: now });
    if (moved) await markStep(tx, { tenantId: r.tenant_id, userId: r.user_id, billKey: r.bill_key }, 'qr_shown', now);
    return moved;
  });
  if (!row) {
    // Expired while WeCom answered: the QR code must not outlive its state.
    await deleteContactWay(ctx, r.tenant_id, way.configId).catch((err) => ctx.log.warn({ err, contactId: r.id }, 'orphan contact way not deleted'));
    throw new AppError('conflict', 'the contact request expired meanwhile; tap again');
  }
  return row;
}

/**
 * `POST /api/v1/bills/{billRef}/contact`: records the bill-sharing consent (PIPL art. 29: separate
 * consent before a bill leaves for customer service), then either answers the user's live request
 * for this bill, or routes a new one: an agent (QR code), the human queue, or, with WeCom down, an
 * emergency service id. `created` is false when an existing request answered.
 */
export async function startContact(
  ctx: AppContext,
  sources: ReadonlyMap<BillKind, BillSource>,
  principal: CardholderPrincipal,
  billRef: string,
  input: { consent: true; noticeVersion?: string },
  meta: RequestMeta = {},
): Promise<{ created: boolean; answer: ContactAnswer }> {
  if (input.consent !== true) throw AppError.validation([{ field: 'consent', message: 'must be true: the bill is shared with customer service only with your consent' }]);
  const now = ctx.clock.now();
  const resolved: ResolvedBill = await resolveBill(ctx, sources, principal, billRef, now);
  const settings = await getContactSettings(ctx.db, principal.tenantId);
  const noticeVersion = input.noticeVersion ?? settings.noticeVersion;
  if (noticeVersion !== settings.noticeVersion) {
    throw AppError.validation([{ field: 'noticeVersion', message: 'the privacy notice changed: show the current one and ask again' }], undefined);
  }
  const key = { tenantId: principal.tenantId, userId: principal.userId, billKey: resolved.billKey };
  await recordStep(ctx, key, resolved.identity.kind, 'tapped', now);

  let outcome: { row: RequestRow; created: boolean };
  try {
    outcome = await inTx(ctx.db, async (tx) => {
      const existing = await liveRequestFor(tx, principal.tenantId, principal.userId, resolved.billKey);
      if (existing && existing.expires_at.getTime() > now.getTime()) return { row: existing, created: false };
      if (existing) await moveRequest(tx, existing.id, ['creating', 'pending', 'queued'], { status: 'expired', state: null, snapshot: null, watermark: null, closed_at: now });
      await setConsent(tx, {
        tenantId: principal.tenantId,
        userId: principal.userId,
        purpose: 'bill_sharing_cs',
        noticeVersion,
        granted: true,
        at: now,
        channel: 'api',
        audit: { ip: meta.ip, deviceId: principal.deviceId, requestId: meta.requestId },
      });
      if (!(await hasConsent(tx, { tenantId: principal.tenantId, userId: principal.userId, purpose: 'bill_sharing_cs', noticeVersion }))) {
        throw new AppError('forbidden', 'no consent to share the bill with customer service');
      }
      const counts = await countUserRequests(tx, principal.tenantId, principal.userId, shanghaiDayStart(now), now);
      if (counts.today >= CONTACTS_PER_USER_PER_DAY || counts.live >= LIVE_CONTACTS_PER_USER) {
        const retryAfter = counts.today >= CONTACTS_PER_USER_PER_DAY ? Math.ceil((shanghaiDayStart(now).getTime() + 86_400_000 - now.getTime()) / 1000) : Math.ceil(QR_TTL_MS / 1000);
        throw new AppError('rate_limited', 'too many customer-service requests; try again later', { retryAfter });
      }
      const agents = await agentsWithLoad(tx, principal.tenantId, now, { lock: true });
      const decision = routeBill({ agents, billKind: resolved.identity.kind, schedule: settings.schedule, now });
      const id = newId('ctc');
      await insertRequest(tx, {
        id,
        tenant_id: principal.tenantId,
        user_id: principal.userId,
        bill_kind: resolved.identity.kind,
        bill_key: resolved.billKey,
        source_id: resolved.identity.sourceId,
        status: 'queued',
        state: null,
        agent_user_id: null,
        config_id: null,
        qr_code: null,
        snapshot: JSON.stringify(snapshotOf(resolved.bill)),
        watermark: watermark(principal.userId, now),
        created_at: now,
        expires_at: new Date(now.getTime() + QUEUE_TTL_MS),
        qr_shown_at: null,
        added_at: null,
        external_user_id: null,
        welcome_sent_at: null,
        remarked_at: null,
        way_deleted_at: null,
        emergency_id: null,
        closed_at: null,
      });
      await recordAudit(tx, {
        tenantId: principal.tenantId,
        actor: { kind: 'cardholder', id: principal.userId },
        action: 'bill.share_cs',
        subject: { kind: 'contact', id },
        outcome: 'ok',
        detail: { billKind: resolved.identity.kind, route: decision.kind, noticeVersion },
        ip: meta.ip,
        deviceId: principal.deviceId,
        requestId: meta.requestId,
        at: now,
      });
      await enqueueJob(tx, { topic: PRUNE_TOPIC, payload: {}, dedupeKey: `${PRUNE_TOPIC}:${now.toISOString().slice(0, 10)}` });
      if (decision.kind === 'agent') return { row: await assign(tx, { id }, decision.agent as Agent, now), created: true };
      const row = (await getRequest(tx, id))!;
      await enqueueJob(tx, expireJob(row));
      return { row, created: true };
    });
  } catch (err) {
    // A concurrent tap on the same bill won the live slot: answer its request.
    if (sqlState(err) !== '23505') throw err;
    const row = await inTx(ctx.db, (tx) => liveRequestFor(tx, principal.tenantId, principal.userId, resolved.billKey));
    if (!row) throw err;
    outcome = { row, created: false };
  }
  let row = outcome.row;
  // A repeat while the first tap is still talking to WeCom answers `preparing`.
  if (outcome.created && row.status === 'creating') row = await openContactWay(ctx, row);
  return { created: outcome.created, answer: await answerFor(ctx, row, ctx.clock.now()) };
}

/**
 * `GET /api/v1/contacts/{contactId}`: the request's state for its user. A queue entry whose turn
 * has come (an agent free and the entry within the free slots) gets its QR code now.
 */
export async function contactStatus(ctx: AppContext, principal: CardholderPrincipal, contactId: string): Promise<ContactAnswer> {
  const r = await getRequest(ctx.db, contactId);
  if (!r || r.tenant_id !== principal.tenantId) throw new AppError('not_found', 'no such contact request');
  if (r.user_id !== principal.userId) throw new AppError('forbidden', 'the contact request is not yours');
  const now = ctx.clock.now();
  if (r.status !== 'queued' || r.expires_at.getTime() <= now.getTime()) return answerFor(ctx, r, now);
  const settings = await getContactSettings(ctx.db, r.tenant_id);
  const assigned = await inTx(ctx.db, async (tx) => {
    const agents = await agentsWithLoad(tx, r.tenant_id, now, { lock: true });
    const locked = await getRequest(tx, r.id, { lock: true });
    if (!locked || locked.status !== 'queued') return undefined;
    const decision = routeBill({ agents, billKind: r.bill_kind, schedule: settings.schedule, now });
    if (decision.kind !== 'agent') return undefined;
    if ((await queuePosition(tx, r.tenant_id, locked, now)) > freeSlots(agents, r.bill_kind)) return undefined;
    return assign(tx, locked, decision.agent as Agent, now);
  });
  const row = assigned ? await openContactWay(ctx, assigned) : ((await getRequest(ctx.db, r.id)) ?? r);
  return answerFor(ctx, row, ctx.clock.now());
}

/**
 * `GET /api/v1/bills/{billRef}`: the caller's bill. The read of financial data is audited and
 * starts (or continues) the bill's funnel journey.
 */
export async function viewBill(
  ctx: AppContext,
  sources: ReadonlyMap<BillKind, BillSource>,
  principal: CardholderPrincipal,
  billRef: string,
  meta: RequestMeta = {},
): Promise<ResolvedBill> {
  const now = ctx.clock.now();
  const resolved = await resolveBill(ctx, sources, principal, billRef, now);
  await recordAudit(ctx.db, {
    tenantId: principal.tenantId,
    actor: { kind: 'cardholder', id: principal.userId },
    action: 'bill.read',
    subject: { kind: resolved.identity.kind, id: resolved.ref },
    outcome: 'ok',
    ip: meta.ip,
    deviceId: principal.deviceId,
    requestId: meta.requestId,
    at: now,
  });
  await recordStep(ctx, { tenantId: principal.tenantId, userId: principal.userId, billKey: resolved.billKey }, resolved.identity.kind, 'viewed', now);
  return resolved;
}
