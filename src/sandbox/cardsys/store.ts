// The simulated card system's records: each card's status and event sequence, plus the demo citizen cards it starts with.
import type { AppContext } from '../../app/context.ts';
import { inTx } from '../../db/tx.ts';
import type { CardStatus } from '../../core/index.ts';
import { demoCardholders } from '../demo/index.ts';
import type { CardsysStatus } from '../../notify/index.ts';

const BIDX_DOMAIN = 'sandbox.cardsys';
/** Cards one snapshot lists at most (the sandbox is for demos and tests). */
export const SANDBOX_CARDSYS_MAX_CARDS = 50_000;

export interface SandboxCard {
  cardNumber: string;
  status: CardsysStatus;
  seq: bigint;
  changedAt: Date;
}

/** The card system's word for a core status (dormancy is the bank's notion: the card itself is normal). */
export function cardsysStatusOf(s: CardStatus): CardsysStatus {
  return s === 'active' || s === 'dormant' ? 'normal' : s;
}

/** Records a status change: the card's sequence goes up by one. */
export async function recordStatus(ctx: AppContext, tenantId: string, cardNumber: string, status: CardsysStatus, changedAt: Date): Promise<SandboxCard> {
  const bidx = ctx.crypto.blindIndex(BIDX_DOMAIN, cardNumber);
  return inTx(ctx.db, async (tx) => {
    const row = await tx
      .insertInto('sandbox_cardsys_cards')
      .values({ tenant_id: tenantId, number_bidx: bidx, number_enc: ctx.crypto.encrypt(cardNumber), status, seq: 1, changed_at: changedAt })
      .onConflict((oc) => oc.columns(['tenant_id', 'number_bidx']).doUpdateSet((eb) => ({ status, seq: eb('sandbox_cardsys_cards.seq', '+', 1), changed_at: changedAt })))
      .returning(['seq'])
      .executeTakeFirstOrThrow();
    return { cardNumber, status, seq: BigInt(row.seq), changedAt };
  });
}

/**
 * Every card the simulated card system holds for the tenant: the ones it has recorded changes for,
 * plus the tenant's demo citizen cards at their demo status (sequence 0, dated at the epoch, so
 * they never override anything wecard has seen or decided since).
 */
export async function listCards(ctx: AppContext, tenantId: string): Promise<SandboxCard[]> {
  const rows = await ctx.db
    .selectFrom('sandbox_cardsys_cards')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('number_bidx')
    .limit(SANDBOX_CARDSYS_MAX_CARDS)
    .execute();
  const cards: SandboxCard[] = rows.map((r) => ({ cardNumber: ctx.crypto.decrypt(r.number_enc), status: r.status as CardsysStatus, seq: BigInt(r.seq), changedAt: r.changed_at }));
  const known = new Set(rows.map((r) => r.number_bidx));
  for (const h of demoCardholders()) {
    if (h.tenantId !== tenantId) continue;
    h.cards.forEach((c, i) => {
      const number = h.cardNumbers[i]!;
      if (c.kind !== 'citizen' || known.has(ctx.crypto.blindIndex(BIDX_DOMAIN, number))) return;
      cards.push({ cardNumber: number, status: cardsysStatusOf(c.status), seq: 0n, changedAt: new Date(0) });
    });
  }
  return cards.slice(0, SANDBOX_CARDSYS_MAX_CARDS);
}
