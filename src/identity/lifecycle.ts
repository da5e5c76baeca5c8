// Card lifecycle for channels: which uses a card's state allows, dormant-account reactivation, and cancelled cards losing access.
import type { AppContext } from '../app/context.ts';
import type { CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { inTx, type Tx } from '../db/tx.ts';
import { getCard, recordCardActivity, setCardStatus, type CardStatus, type CoreCard } from './core-link.ts';
import { getTenant, isDormantAt, requireTenant, type Policy } from '../tenants/index.ts';
import { activeFreeze } from '../risk/index.ts';
import { audit, type RequestMeta } from './events.ts';
import { liveBindingsOfCoreCard, requireOwnCard, revokeBinding, type BoundCard } from './cards.ts';
import { cardRefusal, reactivatingTransferMinFen, type CardUsePurpose } from './policy.ts';
import { requireStepUp } from './step-up.ts';

/**
 * Throws the refusal the card's state gives for this use (card_lost, card_frozen, card_cancelled,
 * account_dormant { reactivation }), or returns the core card. A temporary risk freeze of the
 * card or of its user answers card_frozen { until, scope } (a frozen user cannot use any card,
 * but can still unbind and report a loss). Accounts and top-up call this before every read or
 * payment.
 */
export async function assertCardUsable(
  ctx: AppContext,
  card: BoundCard,
  opts: {
    now?: Date;
    purpose: CardUsePurpose;
    /** The core's card just read by the caller (requireOwnCardWithCore): not read again. `null`: the core does not know it. */
    core?: CoreCard | null;
    /** The tenant's policy as the caller holds it (a read of at most a second ago): not read again. */
    policy?: Policy;
  },
): Promise<CoreCard> {
  const now = opts.now ?? ctx.clock.now();
  const core = opts.core === undefined ? await getCard(ctx.db, card.coreCardId) : (opts.core ?? undefined);
  if (!core) throw new AppError('card_cancelled');
  const policy = opts.policy ?? (await requireTenant(ctx.db, card.tenantId)).policy;
  let freeze: { until: Date; scope: 'user' | 'card' } | undefined;
  if (opts.purpose !== 'manage') {
    const f = await activeFreeze(ctx.db, { tenantId: card.tenantId, userId: card.userId, cardId: card.cardId, now });
    freeze = f ? { until: f.until, scope: f.scope === 'card' ? 'card' : 'user' } : undefined;
  }
  const refusal = cardRefusal(policy, { status: core.status, lastActivityAt: core.lastActivityAt, freeze }, opts.purpose, now);
  if (refusal) throw refusal;
  return core;
}

/**
 * Called by the ledger / top-up paths, in their transaction, for an incoming transfer to a card:
 * when the card is dormant and the tenant wakes accounts by a transfer of at least its amount
 * (≥ ¥1, or the 1-cent verification), the card becomes active and the transfer counts as its
 * latest customer activity. Returns true when it reactivated the card.
 */
export async function reactivateIfQualifying(
  tx: Tx,
  card: { id: string; tenantId: string },
  transfer: { amountFen: bigint; incoming: boolean; at: Date },
): Promise<boolean> {
  if (!transfer.incoming) return false;
  const tenant = await getTenant(tx, card.tenantId);
  if (!tenant) return false;
  const min = reactivatingTransferMinFen(tenant.policy);
  if (min === undefined || transfer.amountFen < BigInt(min)) return false;
  const core = await getCard(tx, card.id);
  if (!core) return false;
  const dormant = core.status === 'dormant' || (core.status === 'active' && isDormantAt(tenant.policy, core.lastActivityAt, transfer.at));
  if (!dormant) return false;
  if (core.status === 'dormant') await setCardStatus(tx, core.id, 'active', transfer.at);
  await recordCardActivity(tx, core.id, transfer.at, transfer.at);
  await audit(tx, { tenantId: card.tenantId, action: 'card.reactivated', outcome: 'ok', subject: { kind: 'core_card', id: core.id }, detail: { route: 'transfer', amountFen: transfer.amountFen }, at: transfer.at });
  return true;
}

/**
 * `POST /api/v1/cards/{cardId}/reactivation`: wakes a dormant account online when the tenant
 * offers that route, after a step-up of the tenant's method (every time). A tenant without the
 * online route answers account_dormant with its routes; an awake card answers as it is.
 */
export async function reactivateOnline(ctx: AppContext, principal: CardholderPrincipal, cardId: string, meta: RequestMeta): Promise<{ cardId: string; status: string }> {
  const card = await requireOwnCard(ctx.db, principal, cardId);
  const tenant = await requireTenant(ctx.db, principal.tenantId);
  const now = ctx.clock.now();
  const core = await getCard(ctx.db, card.coreCardId);
  if (!core || core.status === 'cancelled') throw new AppError('card_cancelled');
  if (core.status === 'lost') throw new AppError('card_lost');
  if (core.status === 'frozen') throw new AppError('card_frozen');
  const dormant = core.status === 'dormant' || isDormantAt(tenant.policy, core.lastActivityAt, now);
  if (!dormant) return { cardId: card.cardId, status: core.status };
  if (!tenant.policy.dormant.reactivation.includes('online')) {
    const refusal = cardRefusal(tenant.policy, { status: 'dormant', lastActivityAt: core.lastActivityAt }, 'topup', now)!;
    throw refusal;
  }
  await requireStepUp(ctx, principal, { purpose: 'card.reactivate', card, always: true, meta });
  await inTx(ctx.db, async (tx) => {
    const at = ctx.clock.now();
    if (core.status === 'dormant') await setCardStatus(tx, core.id, 'active', at);
    await recordCardActivity(tx, core.id, at, at);
    await audit(tx, { tenantId: principal.tenantId, userId: principal.userId, action: 'card.reactivated', outcome: 'ok', subject: { kind: 'card', id: card.cardId }, detail: { route: 'online' }, at }, meta);
  });
  return { cardId: card.cardId, status: 'active' };
}

/** Revokes every live binding of a cancelled core card, in the caller's transaction; returns how many. */
export async function revokeCancelledCard(tx: Tx, coreCardId: string, tenantId: string, reason: 'card_cancelled' | 'cancel_sweep', now: Date, detail: Record<string, unknown> = {}): Promise<number> {
  const live = await liveBindingsOfCoreCard(tx, coreCardId);
  for (const b of live) {
    await revokeBinding(tx, b.id, reason, now);
    await audit(tx, { tenantId, action: 'card.access_revoked', outcome: 'ok', subject: { kind: 'card', id: b.id }, detail: { reason, userId: b.user_id, ...detail }, at: now });
  }
  return live.length;
}

/**
 * The card system's status feed (MQTT, later issue) and the core call this when a card changes
 * status. A cancelled card loses WeChat access at once: its bindings are revoked in the same
 * transaction. Other statuses need nothing here (channels read the live status on every use).
 */
export async function onCardStatusChanged(ctx: AppContext, change: { coreCardId: string; status: CardStatus; at?: Date }): Promise<{ revoked: number }> {
  if (change.status !== 'cancelled') return { revoked: 0 };
  const core = await getCard(ctx.db, change.coreCardId);
  if (!core) return { revoked: 0 };
  const revoked = await inTx(ctx.db, (tx) => revokeCancelledCard(tx, core.id, core.tenantId, 'card_cancelled', change.at ?? ctx.clock.now()));
  return { revoked };
}
