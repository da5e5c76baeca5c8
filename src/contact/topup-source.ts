// The top-up orders as bills: the topup module's reads behind the BillSource port (the caller's own orders, and orders located by their number).
import { AppError } from '../app/errors.ts';
import { getTopupView, topupBill, type TopupView } from '../topup/index.ts';
import { principalOf, type Bill, type BillSource } from './bills.ts';

const ORDER_ID = /^tu_[A-Za-z0-9]{1,40}$/;

function billOf(v: TopupView): Bill {
  return {
    kind: 'topup',
    sourceId: v.orderId,
    orderNumber: v.orderId,
    // What the user paid: the amount loaded plus the fee.
    amountFen: BigInt(v.total),
    currency: v.currency,
    direction: 'debit',
    occurredAt: new Date(v.paidAt ?? v.createdAt),
    title: v.fee > 0 ? `市民卡充值（含手续费 ${(v.fee / 100).toFixed(2)} 元）` : '市民卡充值',
    counterparty: null,
    status: v.status,
    card: { cardId: null, maskedNumber: v.card.maskedNumber, last4: v.card.maskedNumber.slice(-4), kind: 'citizen' },
  };
}

export const topupBills: BillSource = {
  kind: 'topup',
  async load(ctx, owner, sourceId) {
    if (!ORDER_ID.test(sourceId)) throw new AppError('not_found', 'no such top-up order');
    return billOf(await getTopupView(ctx, principalOf(owner), sourceId));
  },
  // The order id, WeChat's transaction number or the payment's out_trade_no, as topupBill reads them.
  async locate(ctx, owner, number) {
    return (await topupBill(ctx, principalOf(owner), number))?.orderId;
  },
};
