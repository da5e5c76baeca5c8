// Bound cards: the opaque card tokens channels hold, ownership checks, unbinding, default card and loss reports (挂失).
import type { Selectable } from 'kysely';
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { getCard, setCardStatus, type CoreCard } from './core-link.ts';
import { newId } from '../shared/ids.ts';
import { requireTenant } from '../tenants/index.ts';
import { audit, type RequestMeta } from './events.ts';
import type { IdentityCardRow } from './identity.table.ts';

export interface BoundCard {
  /** The opaque card token (`card_…`) channels use; never the card number. */
  cardId: string;
  tenantId: string;
  userId: string;
  coreCardId: string;
  maskedNumber: string;
  kind: 'debit' | 'credit' | 'citizen';
  /** The core's status now: active, lost, frozen, dormant, cancelled. */
  status: string;
  isDefault: boolean;
  last4: string;
}

/** The card as the cardholder API shows it. */
export interface CardView {
  cardId: string;
  institution: string;
  maskedNumber: string;
  kind: 'debit' | 'credit' | 'citizen';
  status: string;
  isDefault: boolean;
  last4: string;
}

type CardRow = Selectable<IdentityCardRow>;

function toBound(r: CardRow, core: CoreCard | undefined): BoundCard {
  return {
    cardId: r.id,
    tenantId: r.tenant_id,
    userId: r.user_id,
    coreCardId: r.core_card_id,
    maskedNumber: r.masked_number,
    kind: r.kind,
    // A card the core no longer knows is gone for the cardholder.
    status: core?.status ?? 'cancelled',
    isDefault: r.is_default,
    last4: r.last4,
  };
}

export function cardView(card: BoundCard, institution: string): CardView {
  return {
    cardId: card.cardId,
    institution,
    maskedNumber: card.maskedNumber,
    kind: card.kind,
    status: card.status,
    isDefault: card.isDefault,
    last4: card.last4,
  };
}

/** The user's bound cards, default first, then in binding order, with the core's live status. */
export async function listBoundCards(db: Db | Tx, tenantId: string, userId: string): Promise<BoundCard[]> {
  const rows = await db
    .selectFrom('identity_cards')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('unbound_at', 'is', null)
    .orderBy('is_default', 'desc')
    .orderBy('bound_at')
    .orderBy('id')
    .execute();
  const out: BoundCard[] = [];
  for (const r of rows) out.push(toBound(r, await getCard(db, r.core_card_id)));
  return out;
}

export async function countBoundCards(db: Db | Tx, userId: string): Promise<number> {
  const r = await db
    .selectFrom('identity_cards')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('unbound_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * The caller's bound card by token. Unknown, unbound and other institutions' tokens answer 404;
 * another cardholder's card at the same institution answers 403 (API.md: "not the caller's").
 */
export async function requireOwnCard(db: Db | Tx, principal: CardholderPrincipal, cardId: string): Promise<BoundCard> {
  return (await requireOwnCardWithCore(db, principal, cardId)).card;
}

/** requireOwnCard with the core's card as it was read for it (undefined: the core no longer knows it), for callers that check it next. */
export async function requireOwnCardWithCore(db: Db | Tx, principal: CardholderPrincipal, cardId: string): Promise<{ card: BoundCard; core: CoreCard | undefined }> {
  const r = typeof cardId === 'string' && cardId.length <= 64
    ? await db.selectFrom('identity_cards').selectAll().where('id', '=', cardId).executeTakeFirst()
    : undefined;
  if (!r || r.unbound_at !== null || r.tenant_id !== principal.tenantId) throw new AppError('not_found', 'no such card');
  if (r.user_id !== principal.userId) throw new AppError('forbidden', 'the card is not yours');
  const core = await getCard(db, r.core_card_id);
  return { card: toBound(r, core), core };
}

/** Revokes a binding in the caller's transaction; the oldest remaining card becomes the default if this one was. */
export async function revokeBinding(tx: Tx, cardId: string, reason: string, now: Date): Promise<CardRow | undefined> {
  const r = await tx
    .updateTable('identity_cards')
    .set({ unbound_at: now, unbound_reason: reason, is_default: false, updated_at: now })
    .where('id', '=', cardId)
    .where('unbound_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (!r) return undefined;
  const wasDefault = await tx
    .selectFrom('identity_cards')
    .select('id')
    .where('user_id', '=', r.user_id)
    .where('unbound_at', 'is', null)
    .where('is_default', '=', true)
    .executeTakeFirst();
  if (!wasDefault) {
    const next = await tx
      .selectFrom('identity_cards')
      .select('id')
      .where('user_id', '=', r.user_id)
      .where('unbound_at', 'is', null)
      .orderBy('bound_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    if (next) await tx.updateTable('identity_cards').set({ is_default: true, updated_at: now }).where('id', '=', next.id).execute();
  }
  return r;
}

/** Records a newly bound card; the user's first live card is the default. */
export async function insertBoundCard(tx: Tx, c: { tenantId: string; userId: string; core: CoreCard; now: Date }): Promise<BoundCard> {
  const hasDefault = await tx
    .selectFrom('identity_cards')
    .select('id')
    .where('user_id', '=', c.userId)
    .where('unbound_at', 'is', null)
    .where('is_default', '=', true)
    .executeTakeFirst();
  const r = await tx
    .insertInto('identity_cards')
    .values({
      id: newId('card'),
      tenant_id: c.tenantId,
      user_id: c.userId,
      core_card_id: c.core.id,
      kind: c.core.kind,
      masked_number: c.core.maskedNumber,
      last4: c.core.last4,
      is_default: !hasDefault,
      bound_at: c.now,
      unbound_at: null,
      unbound_reason: null,
      updated_at: c.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toBound(r, c.core);
}

/** Live bindings of a core card (all users): the status feed and the cancellation sweep revoke them. */
export async function liveBindingsOfCoreCard(db: Db | Tx, coreCardId: string): Promise<CardRow[]> {
  return db.selectFrom('identity_cards').selectAll().where('core_card_id', '=', coreCardId).where('unbound_at', 'is', null).execute();
}

/** `DELETE /api/v1/cards/{cardId}`: the cardholder removes the card from WeChat (the card itself is untouched). */
export async function unbindCard(ctx: AppContext, principal: CardholderPrincipal, cardId: string, meta: RequestMeta): Promise<void> {
  await inTx(ctx.db, async (tx) => {
    const card = await requireOwnCard(tx, principal, cardId);
    const now = ctx.clock.now();
    await revokeBinding(tx, card.cardId, 'unbound', now);
    await audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.unbind', outcome: 'ok', subject: { kind: 'card', id: card.cardId }, detail: { maskedNumber: card.maskedNumber }, at: now }, meta);
  });
}

/** `POST /api/v1/cards/{cardId}/default`. */
export async function setDefaultCard(ctx: AppContext, principal: CardholderPrincipal, cardId: string, meta: RequestMeta): Promise<CardView> {
  const tenant = await requireTenant(ctx.db, principal.tenantId);
  const card = await inTx(ctx.db, async (tx) => {
    const c = await requireOwnCard(tx, principal, cardId);
    const now = ctx.clock.now();
    if (!c.isDefault) {
      await tx.updateTable('identity_cards').set({ is_default: false, updated_at: now }).where('user_id', '=', principal.userId).where('unbound_at', 'is', null).where('is_default', '=', true).execute();
      await tx.updateTable('identity_cards').set({ is_default: true, updated_at: now }).where('id', '=', c.cardId).execute();
      await audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.default', outcome: 'ok', subject: { kind: 'card', id: c.cardId }, at: now }, meta);
    }
    return { ...c, isDefault: true };
  });
  return cardView(card, tenant.name);
}

/**
 * 挂失: the core marks the card lost at once, so balance, statement and top-up calls answer
 * card_lost from the next request on, on every channel. Reporting twice changes nothing; a
 * cancelled card cannot be reported.
 */
export async function reportCardLoss(ctx: AppContext, principal: CardholderPrincipal, cardId: string, meta: RequestMeta): Promise<{ cardId: string; status: 'lost'; reportedAt: Date }> {
  const r = await inTx(ctx.db, async (tx) => {
    const card = await requireOwnCard(tx, principal, cardId);
    const now = ctx.clock.now();
    const subject = { kind: 'card', id: card.cardId };
    if (card.status === 'cancelled') {
      // The refusal is audited too: it commits, then the caller gets card_cancelled.
      await audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.loss_report', outcome: 'refused', subject, detail: { reason: 'cancelled' }, at: now }, meta);
      return undefined;
    }
    if (card.status !== 'lost') await setCardStatus(tx, card.coreCardId, 'lost', now);
    await audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.loss_report', outcome: 'ok', subject, detail: { maskedNumber: card.maskedNumber, previousStatus: card.status }, at: now }, meta);
    return { cardId: card.cardId, status: 'lost' as const, reportedAt: now };
  });
  if (!r) throw new AppError('card_cancelled');
  return r;
}
