// Where every fen of top-up money is: credited to cards and fees, refunded, being refunded, in review — from the ledger's top-up accounts and the review queue.
import type { AppContext } from '../app/context.ts';
import { getBalance } from '../ledger/index.ts';
import { ensureTopupAccounts } from './accounts.ts';
import { inReviewFen } from './review-store.ts';
import { fen } from './store.ts';

export interface TopupFenAccount {
  /** Money received and booked (every payment applied, held or credited). */
  bookedFen: bigint;
  /** On cards (posted or as pending loads) and in fee income, net of reversals. */
  creditedFen: bigint;
  /** Paid back to payers (refunds WeChat completed). */
  refundedFen: bigint;
  /** Held in suspense: awaiting a refund already requested or a reviewer. */
  heldFen: bigint;
  /** Held for refunds already requested (not yet completed). */
  refundingFen: bigint;
  /** What open review items put at stake (held money, and bill differences never booked). */
  inReviewFen: bigint;
}

/**
 * The tenant's top-up money by where it is. The identity the acceptance tests check, with `paid`
 * taken from WeChat (sandbox orders or the bill):
 *   paid = credited + refunded + refunding + inReview,
 * where refunding is zero once every requested refund has completed.
 */
export async function topupFenAccount(ctx: AppContext, tenantId: string): Promise<TopupFenAccount> {
  const acc = await ensureTopupAccounts(ctx, tenantId);
  let cfPostedFen = 0n;
  let cfPendingDebitFen = 0n;
  for (const id of acc.customerFunds) {
    const b = await getBalance(ctx.db, id);
    cfPostedFen += b.postedFen;
    cfPendingDebitFen += b.pendingDebitFen;
  }
  const suspense = await getBalance(ctx.db, acc.suspense);
  const refunded = await ctx.db
    .selectFrom('topup_refunds')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<bigint | number | string>('amount_fen'), eb.val(0)).as('total'))
    .where('tenant_id', '=', tenantId)
    .where('state', '=', 'succeeded')
    .executeTakeFirstOrThrow();
  const refunding = await ctx.db
    .selectFrom('topup_refunds')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<bigint | number | string>('amount_fen'), eb.val(0)).as('total'))
    .where('tenant_id', '=', tenantId)
    .where('state', 'in', ['requested', 'processing'])
    .executeTakeFirstOrThrow();
  const refundedFen = fen(refunded.total as bigint | number | string);
  // Customer funds are debited for every booking and credited by refunds and reversals.
  const netOutFen = -cfPostedFen + cfPendingDebitFen;
  const heldFen = suspense.postedFen;
  return {
    bookedFen: netOutFen + refundedFen,
    creditedFen: netOutFen - heldFen,
    refundedFen,
    heldFen,
    refundingFen: fen(refunding.total as bigint | number | string),
    inReviewFen: await inReviewFen(ctx.db, tenantId),
  };
}
