// Card binding: four elements checked by the core, an SMS code to the reserved phone, then the bound card (and the payment password).
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError, FieldErrors } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import {
  assertPaymentPassword,
  getCard,
  revealReservedPhone,
  setPaymentPassword,
  verifyCardElements,
  verifyPaymentPassword,
  type CoreCard,
} from './core-link.ts';
import { ID_TYPES, type IdType } from '../shared/id-document.ts';
import { newId } from '../shared/ids.ts';
import { CardNumber, IdNumber, Phone, PersonName } from '../shared/sensitive.ts';
import { requireTenant } from '../tenants/index.ts';
import { activeFreeze, checkRateLimit } from '../risk/index.ts';
import { audit, riskSignal, type RequestMeta } from './events.ts';
import { cardView, countBoundCards, insertBoundCard, type CardView } from './cards.ts';
import { createOtpChallenge, deliverOtp, verifyOtp } from './otp.ts';
import { BINDING_ATTEMPTS_PER_HOUR, MAX_BOUND_CARDS_PER_USER, OTP_ACTIONS, OTP_TTL_MS } from './policy.ts';
import { phoneBidx, setUserPhone } from './store.ts';

export interface BindingRequest {
  cardNumber: string;
  holderName: string;
  idType: string;
  idNumber: string;
  phone: string;
}

export interface ParsedElements {
  cardNumber: CardNumber;
  holderName: PersonName;
  idType: IdType;
  idNumber: IdNumber;
  phone: Phone;
}

/** Parses the four elements, naming every malformed field at once (the messages never repeat a value). */
export function parseElements(b: BindingRequest, today: Date): ParsedElements {
  const fields = new FieldErrors();
  const { errors } = fields;
  const cardNumber = fields.attempt(() => CardNumber.parse(b.cardNumber, 'cardNumber'));
  const holderName = fields.attempt(() => PersonName.parse(b.holderName, 'holderName'));
  const idType = (ID_TYPES as readonly string[]).includes(b.idType) ? (b.idType as IdType) : undefined;
  if (!idType) errors.push({ field: 'idType', message: `must be one of ${ID_TYPES.join(', ')}` });
  const idNumber = idType ? fields.attempt(() => IdNumber.parse(b.idNumber, { type: idType, today, field: 'idNumber' })) : undefined;
  const phone = fields.attempt(() => Phone.parse(b.phone, 'phone'));
  if (errors.length > 0 || !cardNumber || !holderName || !idType || !idNumber || !phone) throw AppError.validation(errors);
  return { cardNumber, holderName, idType, idNumber, phone };
}

/** Statuses that cannot be bound (a dormant card can: the cardholder then sees how to wake it). */
function refuseStatus(card: CoreCard): void {
  if (card.status === 'cancelled') throw new AppError('card_cancelled');
  if (card.status === 'lost') throw new AppError('card_lost');
  if (card.status === 'frozen') throw new AppError('card_frozen');
}

export interface BindingStarted {
  bindingId: string;
  otpSentTo: string;
  expiresAt: Date;
}

/**
 * `POST /api/v1/bindings`: the core checks card number, holder name, document and reserved phone
 * together (a mismatch answers card_not_bindable without saying which element); then a code goes
 * to the reserved phone. Attempts are rate-limited per user so the check cannot be used to learn
 * elements one by one.
 */
export async function startBinding(ctx: AppContext, principal: CardholderPrincipal, body: BindingRequest, meta: RequestMeta): Promise<BindingStarted> {
  const now = ctx.clock.now();
  const e = parseElements(body, now);
  await checkRateLimit(ctx, { bucket: 'identity.binding', key: principal.userId, limit: BINDING_ATTEMPTS_PER_HOUR, windowMs: 60 * 60 * 1000, now });
  const freeze = await activeFreeze(ctx.db, { tenantId: principal.tenantId, userId: principal.userId, now });
  if (freeze) throw new AppError('card_frozen', 'temporarily frozen by risk control', { until: freeze.until.toISOString(), scope: 'user' });

  const checked = await verifyCardElements(ctx.db, ctx.crypto, principal.tenantId, {
    cardNumber: e.cardNumber,
    holderName: e.holderName,
    idType: e.idType,
    idNumber: e.idNumber,
    phone: e.phone,
  });
  const subjectFor = (id: string) => ({ kind: 'binding', id });
  if (!checked.match) {
    await inTx(ctx.db, (tx) =>
      audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.bind', outcome: 'refused', detail: { reason: 'elements_mismatch', maskedNumber: e.cardNumber.masked }, at: now }, meta),
    );
    throw new AppError('card_not_bindable');
  }
  const card = checked.card;
  refuseStatus(card);

  const bindingId = newId('bnd');
  const created = await inTx(ctx.db, async (tx) => {
    const live = await tx
      .selectFrom('identity_cards')
      .select('id')
      .where('user_id', '=', principal.userId)
      .where('core_card_id', '=', card.id)
      .where('unbound_at', 'is', null)
      .executeTakeFirst();
    if (live) throw new AppError('conflict', 'this card is already bound', { cardId: live.id });
    if ((await countBoundCards(tx, principal.userId)) >= MAX_BOUND_CARDS_PER_USER) {
      throw new AppError('conflict', `at most ${MAX_BOUND_CARDS_PER_USER} cards can be bound`);
    }
    const otp = await createOtpChallenge(tx, ctx.passwordPepper, ctx.crypto, { tenantId: principal.tenantId, purpose: 'binding', subject: bindingId, phone: e.phone, now });
    await tx
      .insertInto('identity_bindings')
      .values({
        id: bindingId,
        tenant_id: principal.tenantId,
        user_id: principal.userId,
        core_card_id: card.id,
        challenge_id: otp.challengeId,
        status: 'pending',
        created_at: now,
        expires_at: new Date(now.getTime() + OTP_TTL_MS),
        completed_at: null,
        card_id: null,
      })
      .execute();
    await audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.bind_requested', outcome: 'ok', subject: subjectFor(bindingId), detail: { maskedNumber: card.maskedNumber, otpSentTo: otp.otpSentTo }, at: now }, meta);
    return otp;
  });
  await deliverOtp(ctx, { tenantId: principal.tenantId, challengeId: created.challengeId, code: created.code, phone: e.phone, action: OTP_ACTIONS.binding(card.last4), purpose: 'binding' });
  return { bindingId, otpSentTo: created.otpSentTo, expiresAt: created.expiresAt };
}

export interface BindingConfirmation {
  otp: string;
  paymentPassword?: string | undefined;
}

type ConfirmOutcome = { ok: true; card: CardView } | { ok: false };

/**
 * `POST /api/v1/bindings/{bindingId}/confirm`. The payment password is the card's (the core's
 * trade password, as on the demo sheet), which is what the step-up "last 4 digits" checks:
 * - a card without one needs `paymentPassword` here, which sets it (6 digits, not guessable);
 * - a user's first binding needs it too, and it must match the card's: the first card proves
 *   both the phone (code) and the card's secret;
 * - otherwise it is optional and, when given, checked the same way.
 * A wrong password closes the binding (card_not_bindable) and counts as a failed code for the
 * phone's lockout, so it cannot be guessed by rebinding.
 */
export async function confirmBinding(
  ctx: AppContext,
  principal: CardholderPrincipal,
  bindingId: string,
  body: BindingConfirmation,
  meta: RequestMeta,
): Promise<CardView> {
  const binding = await ctx.db.selectFrom('identity_bindings').selectAll().where('id', '=', bindingId).executeTakeFirst();
  if (!binding || binding.tenant_id !== principal.tenantId) throw new AppError('not_found', 'no such binding');
  if (binding.user_id !== principal.userId) throw new AppError('forbidden', 'the binding is not yours');
  const tenant = await requireTenant(ctx.db, principal.tenantId);
  if (binding.status === 'confirmed' && binding.card_id) {
    throw new AppError('conflict', 'this binding is already confirmed', { cardId: binding.card_id });
  }
  if (binding.status === 'failed') throw new AppError('conflict', 'this binding failed; start a new one');

  const core = await getCard(ctx.db, binding.core_card_id);
  if (!core) throw new AppError('card_not_bindable');
  refuseStatus(core);
  const first = (await countBoundCards(ctx.db, principal.userId)) === 0;
  const pw = body.paymentPassword;
  if ((!core.hasPaymentPassword || first) && pw === undefined) {
    throw AppError.validation([{ field: 'paymentPassword', message: core.hasPaymentPassword ? "the card's 6-digit payment password is required for the first card" : 'set a 6-digit payment password for this card' }]);
  }
  if (pw !== undefined) {
    if (!core.hasPaymentPassword) assertPaymentPassword(pw);
    else if (!/^\d{6}$/.test(pw)) throw AppError.validation([{ field: 'paymentPassword', message: 'must be 6 digits' }]);
  }
  const reserved = await revealReservedPhone(ctx.db, ctx.crypto, core.id);
  if (!reserved) throw new AppError('card_not_bindable');
  const phone = Phone.parse(reserved);

  const outcome = await verifyOtp<ConfirmOutcome>(
    ctx,
    { challengeId: binding.challenge_id, code: body.otp, purpose: 'binding', subject: binding.id, tenantId: principal.tenantId, userId: principal.userId, meta },
    async (tx) => {
      const now = ctx.clock.now();
      const subject = { kind: 'binding', id: binding.id };
      if (pw !== undefined && core.hasPaymentPassword && !(await verifyPaymentPassword(tx, ctx.passwordPepper, core.id, pw))) {
        await tx.updateTable('identity_bindings').set({ status: 'failed', completed_at: now }).where('id', '=', binding.id).execute();
        await tx.insertInto('identity_otp_failures').values({ tenant_id: principal.tenantId, phone_bidx: phoneBidx(ctx.crypto, phone), challenge_id: binding.challenge_id, at: now }).execute();
        await audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.bind', outcome: 'refused', subject, detail: { reason: 'payment_password', maskedNumber: core.maskedNumber }, at: now }, meta);
        await riskSignal(ctx, tx, { tenantId: principal.tenantId, userId: principal.userId, kind: 'otp_failed', now, ip: meta.ip, detail: { purpose: 'binding_password' } });
        return { ok: false };
      }
      if (!core.hasPaymentPassword) await setPaymentPassword(tx, ctx.passwordPepper, core.id, pw!, now);
      const live = await tx
        .selectFrom('identity_cards')
        .select('id')
        .where('user_id', '=', principal.userId)
        .where('core_card_id', '=', core.id)
        .where('unbound_at', 'is', null)
        .executeTakeFirst();
      if (live) throw new AppError('conflict', 'this card is already bound', { cardId: live.id });
      const bound = await insertBoundCard(tx, { tenantId: principal.tenantId, userId: principal.userId, core, now });
      await tx.updateTable('identity_bindings').set({ status: 'confirmed', completed_at: now, card_id: bound.cardId }).where('id', '=', binding.id).execute();
      const { changed } = await setUserPhone(tx, ctx.crypto, { userId: principal.userId, phone, coreCardId: core.id, deviceId: principal.deviceId, now });
      await audit(
        tx,
        { tenantId: principal.tenantId, userId: principal.userId, action: 'card.bind', outcome: 'ok', subject: { kind: 'card', id: bound.cardId }, detail: { maskedNumber: core.maskedNumber, bindingId: binding.id, phoneChanged: changed, firstCard: first }, at: now },
        meta,
      );
      return { ok: true, card: cardView(bound, tenant.name) };
    },
  );
  if (!outcome.ok) throw new AppError('card_not_bindable');
  return outcome.card;
}
