// The API shapes of a top-up order (POST answer, GET view) and their one mapper from the rows.
import type { RequestPaymentParams } from '../wechat/pay/index.ts';
import { shanghaiRfc3339 } from './calendar.ts';
import type { HistoryEntry, Order } from './store.ts';
import type { TopupStatus } from './topup.table.ts';

export interface TopupAnswer {
  orderId: string;
  status: TopupStatus;
  amount: number;
  fee: number;
  total: number;
  currency: string;
  method: string;
  /** For wx.requestPayment / WeixinJSBridge getBrandWCPayRequest; null once the order is past paying. */
  payParams: RequestPaymentParams | null;
  expectedArrival: string | null;
  expiresAt: string;
}

export interface TopupView {
  orderId: string;
  status: TopupStatus;
  amount: number;
  fee: number;
  total: number;
  currency: string;
  method: string;
  card: { maskedNumber: string; form: 'electronic' | 'physical' };
  onBehalfOf: boolean;
  reason: string | null;
  paidAt: string | null;
  creditedAt: string | null;
  completedAt: string | null;
  expectedArrival: string | null;
  refunded: number;
  /** Physical cards: the on-card load (圈存) and its 补登 deadline. */
  load: { state: 'pending' | 'loaded' | 'expired'; deadline: string | null; loadedAt: string | null; channel: string | null } | null;
  transactionId: string | null;
  createdAt: string;
  history: { status: TopupStatus; event: string; at: string; note: string | null }[];
}

const t = (d: Date | null) => (d ? shanghaiRfc3339(d) : null);

export function answerOf(order: Order, payParams: RequestPaymentParams | null): TopupAnswer {
  return {
    orderId: order.id,
    status: order.status,
    amount: Number(order.amount_fen),
    fee: Number(order.fee_fen),
    total: Number(order.total_fen),
    currency: order.currency,
    method: order.method,
    payParams,
    expectedArrival: t(order.expected_arrival),
    expiresAt: shanghaiRfc3339(order.expires_at),
  };
}

export function viewOf(order: Order, history: HistoryEntry[]): TopupView {
  return {
    orderId: order.id,
    status: order.status,
    amount: Number(order.amount_fen),
    fee: Number(order.fee_fen),
    total: Number(order.total_fen),
    currency: order.currency,
    method: order.method,
    card: { maskedNumber: order.card_masked, form: order.card_form },
    onBehalfOf: order.contact_id !== null,
    reason: order.reason,
    paidAt: t(order.paid_at),
    creditedAt: t(order.credited_at),
    completedAt: t(order.completed_at),
    expectedArrival: t(order.expected_arrival),
    refunded: Number(order.refunded_fen),
    load: order.load_state === 'none' ? null : { state: order.load_state, deadline: t(order.load_deadline), loadedAt: t(order.loaded_at), channel: order.load_channel },
    transactionId: order.transaction_id,
    createdAt: shanghaiRfc3339(order.created_at),
    history: history.map((h) => ({ status: h.status, event: h.event, at: shanghaiRfc3339(h.at), note: h.note })),
  };
}
