// What the daily export reads: the interface a top-up source satisfies, and its adapter over src/topup's reads.
import type { Db } from '../../db/tx.ts';
import { topupsOfDay } from '../../topup/index.ts';

/** One top-up order as the export lists it (masked card, integer fen, no personal data). */
export interface ExportTopup {
  orderId: string;
  createdAt: Date;
  paidAt: Date | null;
  creditedAt: Date | null;
  /** First 6 and last 4 of the citizen card. */
  maskedCardNumber: string;
  method: string;
  amountFen: bigint;
  feeFen: bigint;
  refundedFen: bigint;
  currency: string;
  status: string;
  /** Our WeChat Pay out_trade_no and WeChat's transaction id, for the partner's reconciliation. */
  outTradeNo: string | null;
  transactionId: string | null;
}

/**
 * The day's top-ups of a tenant: orders created on the Shanghai day `day` (YYYY-MM-DD) that were
 * paid (an unpaid order moved no money), ordered by creation. A day with more than `limit` orders
 * is refused (throw, or return more than `limit` rows): a partial file must never look complete.
 */
export type ListTopupsForDay = (db: Db, tenantId: string, day: string, limit: number) => Promise<ExportTopup[]>;

/** The export's source over src/topup (`topupsOfDay`). */
export const topupExportSource: ListTopupsForDay = async (db, tenantId, day, limit) => {
  const orders = await topupsOfDay(db, tenantId, day, limit + 1);
  if (orders.length > limit) throw new Error(`more than ${limit} top-up orders on ${day}; the export is refused rather than cut short`);
  return orders
    .filter((o) => o.paid_at !== null)
    .map((o) => ({
      orderId: o.id,
      createdAt: o.created_at,
      paidAt: o.paid_at,
      creditedAt: o.credited_at,
      maskedCardNumber: o.card_masked,
      method: o.method,
      amountFen: BigInt(o.amount_fen),
      feeFen: BigInt(o.fee_fen),
      refundedFen: BigInt(o.refunded_fen),
      currency: o.currency,
      status: o.status,
      outTradeNo: o.paid_out_trade_no,
      transactionId: o.transaction_id,
    }));
};
