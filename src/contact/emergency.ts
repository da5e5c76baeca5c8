// Emergency service ids: when WeCom cannot be reached, the user quotes an id; an agent sees the bill only after a second verification of the user.
//
// Design: the id alone (read out on a phone line, maybe overheard) reveals nothing. The agent
// must also get from the caller either the last 4 digits of the bill's card (the user knows
// them, the agent cannot see them before) or a 6-digit one-time code the user's own signed-in
// app shows on request (proof that the caller holds the WeChat account the bill belongs to).
// Answers are compared as blind indexes salted by the id; EMERGENCY_VERIFY_MAX_ATTEMPTS wrong
// answers over both methods lock the id for good (the user starts a new contact). Every
// verification, right or wrong, is in the audit log.
import { randomInt } from 'node:crypto';
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { enqueueJob } from '../app/jobs.ts';
import { inTx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import type { AgentCaller } from './agents.ts';
import { EMERGENCY_EXPIRE_TOPIC } from './jobs.ts';
import { EMERGENCY_CODE_TTL_MS, EMERGENCY_TTL_MS, EMERGENCY_VERIFY_MAX_ATTEMPTS } from './policy.ts';
import { getEmergency, getRequest, insertEmergency, moveRequest, snapshotFrom, updateEmergency, type EmergencyRow, type RequestRow } from './store.ts';
import type { BillSnapshot } from './texts.ts';

/** No 0/O, 1/I/L: an id read out over the phone. 31^8 ≈ 8.5·10^11 values. */
const SERVICE_ID_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const SERVICE_ID_CHARS = 8;
const SERVICE_ID_CANONICAL = /^CS[2-9A-HJKMNP-Z]{8}$/;

export type VerificationMethod = 'card_last4' | 'user_code';

export interface EmergencyView {
  serviceId: string;
  /** How an agent can verify the caller; `user_code` needs the user to ask the app for a code first. */
  verification: VerificationMethod[];
}

function newServiceId(): string {
  let s = '';
  for (let i = 0; i < SERVICE_ID_CHARS; i++) s += SERVICE_ID_ALPHABET[randomInt(SERVICE_ID_ALPHABET.length)];
  return `CS-${s.slice(0, 4)}-${s.slice(4)}`;
}

/** `cs-7k3m 9qxd`, `CS7K3M9QXD` → `CS-7K3M-9QXD`; undefined when it cannot be one of ours. */
export function normaliseServiceId(input: string): string | undefined {
  if (typeof input !== 'string' || input.length > 32) return undefined;
  const c = input.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return SERVICE_ID_CANONICAL.test(c) ? `CS-${c.slice(2, 6)}-${c.slice(6)}` : undefined;
}

const check = (ctx: AppContext, kind: 'last4' | 'code', serviceId: string, answer: string) => ctx.crypto.blindIndex(`contact.emergency.${kind}`, `${serviceId}:${answer}`);

export function emergencyView(e: EmergencyRow): EmergencyView {
  return { serviceId: e.service_id, verification: [...(e.last4_check ? (['card_last4'] as const) : []), 'user_code'] };
}

/** Turns a request whose contact way could not be created into an emergency service id (72 hours). */
export async function issueEmergency(ctx: AppContext, r: RequestRow): Promise<RequestRow> {
  const now = ctx.clock.now();
  const snapshot = snapshotFrom(r.snapshot);
  const serviceId = newServiceId();
  const expiresAt = new Date(now.getTime() + EMERGENCY_TTL_MS);
  const row = await inTx(ctx.db, async (tx) => {
    const moved = await moveRequest(tx, r.id, ['creating'], { status: 'emergency', state: null, snapshot: null, emergency_id: serviceId, expires_at: expiresAt });
    if (!moved || !snapshot) return undefined;
    await insertEmergency(tx, {
      service_id: serviceId,
      tenant_id: r.tenant_id,
      user_id: r.user_id,
      request_id: r.id,
      snapshot: JSON.stringify(snapshot),
      last4_check: snapshot.cardLast4 ? check(ctx, 'last4', serviceId, snapshot.cardLast4) : null,
      code_check: null,
      code_expires_at: null,
      attempts: 0,
      locked_at: null,
      resolved_at: null,
      created_at: now,
      expires_at: expiresAt,
    });
    await enqueueJob(tx, { topic: EMERGENCY_EXPIRE_TOPIC, payload: { serviceId }, dedupeKey: `${EMERGENCY_EXPIRE_TOPIC}:${serviceId}`, runAfter: expiresAt });
    return moved;
  });
  if (!row) throw new AppError('conflict', 'the contact request expired meanwhile; tap again');
  return row;
}

/** `POST /api/v1/contacts/{contactId}/verification-code`: a one-time code for the user to read to the agent (10 minutes; a new one replaces it). */
export async function issueUserCode(ctx: AppContext, principal: CardholderPrincipal, contactId: string): Promise<{ serviceId: string; code: string; expiresAt: Date }> {
  const r = await getRequest(ctx.db, contactId);
  if (!r || r.tenant_id !== principal.tenantId) throw new AppError('not_found', 'no such contact request');
  if (r.user_id !== principal.userId) throw new AppError('forbidden', 'the contact request is not yours');
  const now = ctx.clock.now();
  const e = r.emergency_id ? await getEmergency(ctx.db, r.emergency_id) : undefined;
  if (!e || e.expires_at.getTime() <= now.getTime()) throw new AppError('not_found', 'this contact request has no live emergency service id');
  if (e.locked_at) throw new AppError('otp_locked', 'too many wrong answers: start a new contact', { retryAfter: Math.ceil((e.expires_at.getTime() - now.getTime()) / 1000) });
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const expiresAt = new Date(now.getTime() + EMERGENCY_CODE_TTL_MS);
  await updateEmergency(ctx.db, e.service_id, { code_check: check(ctx, 'code', e.service_id, code), code_expires_at: expiresAt });
  return { serviceId: e.service_id, code, expiresAt };
}

export interface ResolvedEmergency {
  serviceId: string;
  bill: BillSnapshot;
  expiresAt: Date;
}

/**
 * `POST /api/v1/cs/emergencies/{serviceId}/verify` by an agent of the id's tenant: the bill when
 * the answer is right; `otp_invalid { attemptsLeft }` when wrong, `otp_locked` once locked.
 */
export async function verifyEmergency(
  ctx: AppContext,
  caller: AgentCaller,
  serviceIdInput: string,
  input: { method: VerificationMethod; answer: string },
  meta: { ip?: string; requestId?: string } = {},
): Promise<ResolvedEmergency> {
  const serviceId = normaliseServiceId(serviceIdInput);
  if (!serviceId) throw new AppError('not_found', 'no such service id');
  const now = ctx.clock.now();
  const out = await inTx(ctx.db, async (tx) => {
    const e = await getEmergency(tx, serviceId, { lock: true });
    if (!e || e.tenant_id !== caller.tenantId || e.expires_at.getTime() <= now.getTime()) return { kind: 'missing' as const };
    const retryAfter = Math.ceil((e.expires_at.getTime() - now.getTime()) / 1000);
    if (e.locked_at) return { kind: 'locked' as const, retryAfter };
    let right = false;
    if (input.method === 'card_last4') right = !!e.last4_check && /^\d{4}$/.test(input.answer) && check(ctx, 'last4', serviceId, input.answer) === e.last4_check;
    else if (input.method === 'user_code') {
      right = !!e.code_check && !!e.code_expires_at && e.code_expires_at.getTime() > now.getTime() && /^\d{6}$/.test(input.answer) && check(ctx, 'code', serviceId, input.answer) === e.code_check;
    }
    const attempts = right ? e.attempts : e.attempts + 1;
    const locked = !right && attempts >= EMERGENCY_VERIFY_MAX_ATTEMPTS;
    await updateEmergency(tx, serviceId, right ? { resolved_at: e.resolved_at ?? now, ...(input.method === 'user_code' ? { code_check: null, code_expires_at: null } : {}) } : { attempts, ...(locked ? { locked_at: now } : {}) });
    await recordAudit(tx, {
      tenantId: e.tenant_id,
      actor: { kind: 'operator', id: caller.tokenId },
      action: right ? 'cs.emergency.resolved' : 'cs.emergency.refused',
      subject: { kind: 'contact', id: e.request_id },
      outcome: right ? 'ok' : 'refused',
      detail: { method: input.method, ...(locked ? { locked: true } : {}) },
      ip: meta.ip,
      requestId: meta.requestId,
      at: now,
    });
    if (!right) return locked ? { kind: 'locked' as const, retryAfter } : { kind: 'wrong' as const, attemptsLeft: EMERGENCY_VERIFY_MAX_ATTEMPTS - attempts };
    return { kind: 'ok' as const, resolved: { serviceId, bill: snapshotFrom(e.snapshot)!, expiresAt: e.expires_at } };
  });
  switch (out.kind) {
    case 'missing':
      throw new AppError('not_found', 'no such service id');
    case 'locked':
      throw new AppError('otp_locked', 'too many wrong answers: the user must start a new contact', { retryAfter: out.retryAfter });
    case 'wrong':
      throw new AppError('otp_invalid', 'the verification answer is wrong', { attemptsLeft: out.attemptsLeft });
    default:
      return out.resolved;
  }
}
