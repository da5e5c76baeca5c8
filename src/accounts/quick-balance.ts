// Quick balance without binding: card number + reserved phone + SMS code → the T+1 balance and the last few entries, under no-bind quotas.
import type { AppContext } from '../app/context.ts';
import { AppError, FieldErrors } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { findCardByNumber, getCard, readBalance, readTransactions, revealReservedPhone, type CoreCard } from '../core/index.ts';
import { assertCardUsable, createOtpChallenge, deliverOtp, verifyOtp, type BoundCard, type RequestMeta } from '../identity/index.ts';
import { guardNoBindQuery } from '../risk/index.ts';
import { newId } from '../shared/ids.ts';
import { CardNumber, Phone } from '../shared/sensitive.ts';
import type { Policy } from '../tenants/index.ts';
import { cachedTenant, type Reader } from './hot-state.ts';
import { toItem, type StatementItem } from './statements.ts';
import { getQuickQuery, insertQuickQuery, markQuickQueryAnswered, type QuickQuery } from './store.ts';

/** Blind-index domain of probed card numbers: the no-bind quota and risk subject, never the number. */
const CARD_KEY_DOMAIN = 'accounts.nobind_card';
const QUERY_ID_PATTERN = /^qb_[0-9a-z]{26}$/;
/** Entries read to find the last posted ones (holds are left out of T+1 data). */
const LAST_ENTRIES_READ = 10;

export interface QuickBalanceRequest {
  tenantId: string;
  cardNumber: string;
  phone: string;
}

export interface QuickBalanceStarted {
  challengeId: string;
  otpSentTo: string;
  expiresAt: Date;
}

export interface QuickBalanceAnswer {
  maskedNumber: string;
  available: bigint;
  currency: string;
  asOf: Date;
  freshness: 't+1';
  stale: boolean;
  /** At most policy.noBind.lastTransactions (3) posted entries up to `asOf`, newest first. */
  lastTransactions: StatementItem[];
}

function parse(body: QuickBalanceRequest): { cardNumber: CardNumber; phone: Phone } {
  const fields = new FieldErrors();
  const { errors } = fields;
  const cardNumber = fields.attempt(() => CardNumber.parse(body.cardNumber, 'cardNumber'));
  const phone = fields.attempt(() => Phone.parse(body.phone, 'phone'));
  if (!cardNumber || !phone) throw AppError.validation(errors);
  return { cardNumber, phone };
}

/**
 * identity's card rules (lost, frozen, cancelled, dormant per the tenant, risk freezes) for a card
 * that is not bound: the "binding" is the asking account and the probed card's blind index, which
 * is the subject risk freezes a probed card under.
 */
function probedCard(core: CoreCard, who: Reader, cardKey: string): BoundCard {
  return { cardId: cardKey, tenantId: core.tenantId, userId: who.userId, coreCardId: core.id, maskedNumber: core.maskedNumber, kind: core.kind, status: core.status, isDefault: false, last4: core.last4 };
}

function refuseKind(policy: Policy, core: CoreCard): void {
  if (!policy.noBind.cardKinds.includes(core.kind)) {
    throw new AppError('forbidden', 'quick balance is not offered for this kind of card here', { allowedKinds: policy.noBind.cardKinds });
  }
}

const mismatch = () => new AppError('card_not_bindable', "the card number and phone do not match the bank's records");

/**
 * `POST /api/v1/quick-balance`: the no-bind entry of the mini-program. Every try, matching or not,
 * is a no-bind query: risk's gate counts it as a card probe (enumerating numbers freezes the
 * account) and uses the daily quotas per WeChat account and per card (3 and 5 at the
 * agricultural bank). A card whose number and reserved phone do not match answers
 * card_not_bindable, without saying which; only card kinds the tenant allows; then an SMS code
 * to the reserved phone.
 */
export async function startQuickBalance(ctx: AppContext, who: Reader, body: QuickBalanceRequest, meta: RequestMeta = {}): Promise<QuickBalanceStarted> {
  const now = ctx.clock.now();
  if (body.tenantId !== who.tenantId) throw new AppError('forbidden', "sign in with this institution's mini-program to query its cards");
  const { cardNumber, phone } = parse(body);
  const tenant = await cachedTenant(ctx, who.tenantId);
  const policy = tenant.policy;
  const cardKey = ctx.crypto.blindIndex(CARD_KEY_DOMAIN, cardNumber.reveal());
  await guardNoBindQuery(ctx, { tenantId: who.tenantId, policy, accountKey: who.userId, cardKey, ...(meta.ip ? { ip: meta.ip } : {}), now });

  const audit = (outcome: 'ok' | 'refused', detail: Record<string, unknown>, subject?: { kind: string; id: string }) => ({
    tenantId: who.tenantId,
    actor: { kind: 'cardholder' as const, id: who.userId },
    action: 'quick_balance.requested',
    ...(subject ? { subject } : {}),
    outcome,
    detail: { maskedNumber: cardNumber.masked, ...detail },
    ...(meta.ip ? { ip: meta.ip } : {}),
    ...(meta.deviceId ? { deviceId: meta.deviceId } : {}),
    ...(meta.requestId ? { requestId: meta.requestId } : {}),
    at: now,
  });
  const core = await findCardByNumber(ctx.db, ctx.crypto, who.tenantId, cardNumber);
  const reserved = core ? await revealReservedPhone(ctx.db, ctx.crypto, core.id) : undefined;
  if (!core || reserved === undefined || !Phone.parse(reserved).equals(phone)) {
    await recordAudit(ctx.db, audit('refused', { reason: 'elements_mismatch' }));
    throw mismatch();
  }
  refuseKind(policy, core);
  await assertCardUsable(ctx, probedCard(core, who, cardKey), { purpose: 'balance', now });

  const id = newId('qb');
  const created = await inTx(ctx.db, async (tx) => {
    const otp = await createOtpChallenge(tx, ctx.passwordPepper, ctx.crypto, { tenantId: who.tenantId, purpose: 'quick_balance', subject: id, phone, now });
    await insertQuickQuery(tx, {
      id,
      tenant_id: who.tenantId,
      user_id: who.userId,
      core_card_id: core.id,
      card_key: cardKey,
      masked_number: core.maskedNumber,
      otp_challenge_id: otp.challengeId,
      created_at: now,
      expires_at: otp.expiresAt,
      answered_at: null,
    });
    await recordAudit(tx, audit('ok', { otpSentTo: otp.otpSentTo }, { kind: 'quick_query', id }));
    return otp;
  });
  await deliverOtp(ctx, { tenantId: who.tenantId, challengeId: created.challengeId, code: created.code, phone, action: `查询尾号${core.last4}的余额`, purpose: 'quick_balance' });
  return { challengeId: id, otpSentTo: created.otpSentTo, expiresAt: created.expiresAt };
}

async function ownQuery(ctx: AppContext, who: Reader, challengeId: string): Promise<QuickQuery> {
  const q = QUERY_ID_PATTERN.test(challengeId) ? await getQuickQuery(ctx.db, challengeId) : undefined;
  if (!q || q.tenant_id !== who.tenantId) throw new AppError('not_found', 'no such quick-balance query');
  // The code went to the card's phone, but the query belongs to the account that asked.
  if (q.user_id !== who.userId) throw new AppError('forbidden', 'the query is not yours');
  return q;
}

/**
 * `POST /api/v1/quick-balance/{challengeId}/confirm`: with the right code, the T+1 balance (the
 * end of the previous business day, DOMAIN.md) and the last entries up to then. The core is read
 * before the code is spent, so an outage answers core_unavailable (or the kept T+1 value, stale)
 * without using up the code; the code, the answered mark and the audit entry commit together.
 * Wrong codes answer otp_invalid { attemptsLeft }, the 5th otp_locked { retryAfter }.
 */
export async function confirmQuickBalance(ctx: AppContext, who: Reader, challengeId: string, otp: unknown, meta: RequestMeta = {}): Promise<QuickBalanceAnswer> {
  const now = ctx.clock.now();
  const q = await ownQuery(ctx, who, challengeId);
  if (q.answered_at !== null) throw new AppError('otp_invalid', 'this query was already answered; start a new one', { attemptsLeft: 0 });
  const policy = (await cachedTenant(ctx, who.tenantId)).policy;
  const core = await getCard(ctx.db, q.core_card_id);
  if (!core) throw new AppError('card_cancelled');
  refuseKind(policy, core);
  await assertCardUsable(ctx, probedCard(core, who, q.card_key), { purpose: 'balance', now });

  const balance = await readBalance(ctx, { tenantId: who.tenantId, card: core, freshness: policy.noBind.freshness, now });
  const wanted = policy.noBind.lastTransactions;
  const last = wanted === 0 ? [] : (await readTransactions(ctx, { tenantId: who.tenantId, card: core, to: balance.asOf, limit: LAST_ENTRIES_READ, now })).items.filter((t) => t.state === 'posted').slice(0, wanted);

  await verifyOtp(ctx, { challengeId: q.otp_challenge_id, code: otp, purpose: 'quick_balance', subject: q.id, tenantId: who.tenantId, userId: who.userId, now, meta }, async (tx) => {
    if (!(await markQuickQueryAnswered(tx, q.id, now))) throw new AppError('otp_invalid', 'this query was already answered; start a new one', { attemptsLeft: 0 });
    await recordAudit(tx, {
      tenantId: who.tenantId,
      actor: { kind: 'cardholder', id: who.userId },
      action: 'quick_balance.read',
      subject: { kind: 'quick_query', id: q.id },
      outcome: 'ok',
      detail: { maskedNumber: q.masked_number, freshness: balance.freshness, stale: balance.stale, entries: last.length },
      ...(meta.ip ? { ip: meta.ip } : {}),
      ...(meta.deviceId ? { deviceId: meta.deviceId } : {}),
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      at: now,
    });
  });
  return {
    maskedNumber: q.masked_number,
    available: balance.available,
    currency: balance.currency,
    asOf: balance.asOf,
    freshness: 't+1',
    stale: balance.stale,
    lastTransactions: last.map(toItem),
  };
}
