// Reconciliation as a pure comparison: the trade bill's payments of one day against the payments we recorded, classified into findings.

/** A SUCCESS row of the bill that is one of our top-up payments. */
export interface BillPayment {
  outTradeNo: string;
  transactionId: string | undefined;
  /** 订单金额 (or 应结订单金额 when the order amount column is absent), exact fen. */
  fen: bigint;
}

/** What we know of an attempt named by the bill or paid on the day. */
export interface RecordedAttempt {
  outTradeNo: string;
  state: string;
  paidFen: bigint | null;
  duplicate: boolean;
  /** Paid on the bill's day by our records (success_time within the day). */
  paidOnDay: boolean;
}

export type FindingClass = 'matched' | 'paid_not_credited' | 'credited_not_paid' | 'duplicate_payment' | 'amount_mismatch' | 'unknown_payment';

export interface Finding {
  class: FindingClass;
  outTradeNo: string;
  billFen: bigint | null;
  recordedFen: bigint | null;
}

/**
 * Every bill payment and every payment we recorded on the day, exactly once:
 * - in the bill, unknown to us → unknown_payment;
 * - in the bill, not recorded as paid → paid_not_credited (the automatic fix applies it);
 * - in the bill and recorded, amounts differ → amount_mismatch (a reviewer decides);
 * - in the bill, recorded as a second payment of its order → duplicate_payment (refunded);
 * - recorded as paid on the day, not in the bill → credited_not_paid (a reviewer decides);
 * - otherwise matched.
 */
export function classifyDay(bill: readonly BillPayment[], recorded: ReadonlyMap<string, RecordedAttempt>): Finding[] {
  const out: Finding[] = [];
  const inBill = new Set<string>();
  for (const b of bill) {
    if (inBill.has(b.outTradeNo)) continue;
    inBill.add(b.outTradeNo);
    const r = recorded.get(b.outTradeNo);
    if (!r) out.push({ class: 'unknown_payment', outTradeNo: b.outTradeNo, billFen: b.fen, recordedFen: null });
    else if (r.state !== 'paid' || r.paidFen === null) out.push({ class: 'paid_not_credited', outTradeNo: b.outTradeNo, billFen: b.fen, recordedFen: null });
    else if (r.paidFen !== b.fen) out.push({ class: 'amount_mismatch', outTradeNo: b.outTradeNo, billFen: b.fen, recordedFen: r.paidFen });
    else if (r.duplicate) out.push({ class: 'duplicate_payment', outTradeNo: b.outTradeNo, billFen: b.fen, recordedFen: r.paidFen });
    else out.push({ class: 'matched', outTradeNo: b.outTradeNo, billFen: b.fen, recordedFen: r.paidFen });
  }
  for (const r of recorded.values()) {
    if (r.paidOnDay && r.state === 'paid' && !inBill.has(r.outTradeNo)) out.push({ class: 'credited_not_paid', outTradeNo: r.outTradeNo, billFen: null, recordedFen: r.paidFen });
  }
  return out;
}

/** Counts per class, every class present (the console shows zeros too). */
export function countFindings(findings: readonly Finding[]): Record<FindingClass, number> {
  const counts: Record<FindingClass, number> = { matched: 0, paid_not_credited: 0, credited_not_paid: 0, duplicate_payment: 0, amount_mismatch: 0, unknown_payment: 0 };
  for (const f of findings) counts[f.class]++;
  return counts;
}
