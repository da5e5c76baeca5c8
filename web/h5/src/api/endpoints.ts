// The cardholder API calls the pages make, typed after API.md (the accounts shapes are read defensively: see normalise*).
import { request, type RequestOptions } from './http.ts';
import type { H5Config, Me, User } from '../state/session.ts';

export interface Card {
  cardId: string;
  institution: string;
  maskedNumber: string;
  kind: string;
  status: string;
  isDefault: boolean;
  last4?: string;
}

export interface Balance {
  available: number;
  ledger: number;
  currency: string;
  asOf: string;
  freshness: string;
  stale: boolean;
}

export interface Txn {
  id: string;
  bookedAt: string;
  amount: number;
  currency: string;
  direction: string;
  counterparty: string | null;
  description: string | null;
  balanceAfter: number | null;
}

/**
 * A statement range: institutions that page back in time take a `month` (or nothing: the whole
 * window); custom-range institutions take `from`/`to` (YYYY-MM-DD, Asia/Shanghai).
 */
export interface StatementQuery {
  month?: string;
  from?: string;
  to?: string;
  direction?: 'credit' | 'debit';
}

export interface TrendPoint {
  month: string;
  income: number;
  expense: number;
}

export interface OverviewAccount {
  /** Why no balance is shown (step_up_required, card_lost, core_unavailable, …), if none is. */
  unavailable: string | null;
  cardId: string | null;
  institution: string | null;
  maskedNumber: string | null;
  kind: string | null;
  available: number | null;
  currency: string;
  stale: boolean;
}

export interface Overview {
  accounts: OverviewAccount[];
  totals: { currency: string; available: number }[];
}

export interface Consent {
  purpose: string;
  noticeVersion: string;
  granted: boolean;
  at: string;
}

export interface QuickBalance {
  available: number;
  currency: string;
  asOf: string;
  freshness: string;
  lastTransactions: Txn[];
}

export type TopupMethod = 'wechat_balance' | 'bank_card' | 'credit_card';

/** wx.requestPayment / getBrandWCPayRequest parameters (package is `prepay_id=…`). */
export interface PayParams {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: string;
  paySign: string;
}

export interface TopupAnswer {
  orderId: string;
  status: string;
  amount: number;
  fee: number;
  total: number;
  currency: string;
  method: string;
  payParams: PayParams | null;
  expectedArrival: string | null;
  expiresAt: string;
}

export interface TopupView {
  orderId: string;
  status: string;
  amount: number;
  fee: number;
  total: number;
  currency: string;
  method: string;
  card: { maskedNumber: string; form: string };
  onBehalfOf: boolean;
  reason: string | null;
  paidAt: string | null;
  creditedAt: string | null;
  completedAt: string | null;
  expectedArrival: string | null;
  refunded: number;
  load: { state: string; deadline: string | null; loadedAt: string | null; channel: string | null } | null;
  transactionId: string | null;
  createdAt: string;
  history: { status: string; event: string; at: string; note: string | null }[];
}

export interface TrustedContact {
  id: string;
  role: 'requester' | 'owner' | string;
  maskedCardNumber: string;
  relation: string;
  status: string;
  createdAt: string;
  acceptedAt: string | null;
}

export interface Bill {
  billRef: string;
  kind: string;
  orderNumber: string;
  amount: number;
  currency: string;
  direction: string;
  status: string;
  occurredAt: string;
  title: string;
  counterparty: string | null;
  card: { cardId: string | null; maskedNumber: string; last4: string; kind: string } | null;
}

export interface ContactAnswer {
  contactId: string;
  status: string;
  qrCodeUrl: string | null;
  maskedAgent: { name: string; id: string; title: string } | null;
  watermark: string | null;
  expiresAt: string;
  queue: { position: number; expectedWaitMinutes: number; opensAt: string | null } | null;
  emergency: { serviceId: string; verification: string[] } | null;
}

const enc = encodeURIComponent;

export const api = {
  config: (tenantId?: string) => request<H5Config>('/api/v1/h5/config', { query: { tenantId }, auth: false, interactive: false }),
  signIn: (tenantId: string, code: string) =>
    request<{ token: string; expiresAt: string; user: User }>('/api/v1/sessions', { body: { tenantId, code, kind: 'oauth' }, auth: false, interactive: false }),
  signOut: () => request<void>('/api/v1/sessions/current', { method: 'DELETE', interactive: false }),
  me: () => request<Me>('/api/v1/me'),
  setPrefs: (p: { elderlyMode?: boolean; voice?: boolean }) => request<Me>('/api/v1/me', { method: 'PATCH', body: p }),

  startBinding: (b: { cardNumber: string; holderName: string; idType: string; idNumber: string; phone: string }) =>
    request<{ bindingId: string; otpSentTo: string; expiresAt: string }>('/api/v1/bindings', { body: b, idempotent: true }),
  confirmBinding: (bindingId: string, b: { otp: string; paymentPassword?: string }) =>
    request<Card>(`/api/v1/bindings/${enc(bindingId)}/confirm`, { body: b }),
  cards: () => request<{ items: Card[] }>('/api/v1/cards').then((r) => r.items),
  unbind: (cardId: string) => request<void>(`/api/v1/cards/${enc(cardId)}`, { method: 'DELETE' }),
  reportLoss: (cardId: string) => request<{ cardId: string; status: string; reportedAt: string }>(`/api/v1/cards/${enc(cardId)}/loss-report`, { method: 'POST', body: {} }),
  setDefault: (cardId: string) => request<Card>(`/api/v1/cards/${enc(cardId)}/default`, { method: 'POST', body: {} }),
  reactivate: (cardId: string) => request<{ cardId: string; status: string }>(`/api/v1/cards/${enc(cardId)}/reactivation`, { method: 'POST', body: {} }),

  balance: (cardId: string) => request<Balance>(`/api/v1/cards/${enc(cardId)}/balance`),
  transactions: (cardId: string, q: StatementQuery & { cursor?: string | null; limit?: number }, opts: RequestOptions = {}) =>
    request<unknown>(`/api/v1/cards/${enc(cardId)}/transactions`, { ...opts, query: { ...q, cursor: q.cursor ?? undefined } }).then(normaliseTxnPage),
  transactionsCsv: (cardId: string, q: StatementQuery) =>
    request<Response>(`/api/v1/cards/${enc(cardId)}/transactions.csv`, { query: { ...q }, raw: true, headers: { accept: 'text/csv' } }),
  trends: (cardId: string, months: number) => request<unknown>(`/api/v1/cards/${enc(cardId)}/trends`, { query: { months } }).then(normaliseTrends),
  overview: () => request<unknown>('/api/v1/overview').then(normaliseOverview),

  quickBalance: (b: { tenantId: string; cardNumber: string; phone: string }) =>
    request<{ challengeId: string; otpSentTo: string }>('/api/v1/quick-balance', { body: b, idempotent: true }),
  confirmQuickBalance: (challengeId: string, otp: string) =>
    request<QuickBalance>(`/api/v1/quick-balance/${enc(challengeId)}/confirm`, { body: { otp } }).then((r) => ({ ...r, lastTransactions: (r.lastTransactions ?? []).map(normaliseTxn) })),

  consents: () => request<{ items: Consent[] }>('/api/v1/consents').then((r) => r.items),
  setConsent: (c: { purpose: string; noticeVersion: string; granted: boolean }) => request<Consent>('/api/v1/consents', { body: c }),

  createTopup: (b: { citizenCardNumber: string; amount: number; method: TopupMethod; onBehalfOf?: string; app?: 'oa' | 'miniProgram' }) =>
    request<TopupAnswer>('/api/v1/topups', { body: b, idempotent: true }),
  topup: (orderId: string, opts: RequestOptions = {}) => request<TopupView>(`/api/v1/topups/${enc(orderId)}`, opts),
  topups: () => request<{ items: TopupView[]; nextCursor: string | null }>('/api/v1/topups', { query: { limit: 20 } }),
  renewPayment: (orderId: string) => request<TopupAnswer>(`/api/v1/topups/${enc(orderId)}/payment`, { body: { app: 'oa' } }),
  trustedContacts: () => request<{ items: TrustedContact[] }>('/api/v1/trusted-contacts').then((r) => r.items),
  requestTrustedContact: (b: { citizenCardNumber: string; relation: string }) => request<TrustedContact>('/api/v1/trusted-contacts', { body: b }),
  acceptTrustedContact: (id: string) => request<TrustedContact>(`/api/v1/trusted-contacts/${enc(id)}/accept`, { method: 'POST', body: {} }),
  endTrustedContact: (id: string) => request<void>(`/api/v1/trusted-contacts/${enc(id)}`, { method: 'DELETE' }),

  bill: (billRef: string) => request<Bill>(`/api/v1/bills/${enc(billRef)}`),
  contactAboutBill: (billRef: string, noticeVersion: string) =>
    request<ContactAnswer>(`/api/v1/bills/${enc(billRef)}/contact`, { body: { consent: true, noticeVersion }, idempotent: true }),
  contact: (contactId: string) => request<ContactAnswer>(`/api/v1/contacts/${enc(contactId)}`),

  answerStepUp: (challengeId: string, answer: string) =>
    request<{ passed: true; validUntil: string }>(`/api/v1/step-ups/${enc(challengeId)}`, { body: { answer }, interactive: false }),
  requestActivation: (device: string) =>
    request<{ activated: boolean; challengeId?: string; otpSentTo?: string }>(`/api/v1/devices/${enc(device)}/activation`, { body: {}, idempotent: true, interactive: false }),
  confirmActivation: (device: string, otp: string, challengeId?: string) =>
    request<{ activated: true }>(`/api/v1/devices/${enc(device)}/activation`, { body: { otp, ...(challengeId ? { challengeId } : {}) }, interactive: false }),
  sandboxFace: (userId: string) => request<{ faceToken: string }>(`/sandbox/api/face/${enc(userId)}`, { body: {}, auth: false, interactive: false }),

  spokenMoney: (amount: number, currency: string) =>
    request<{ text: string; upper: string | null }>('/api/v1/speech/money', { query: { amount: Math.trunc(amount), currency }, auth: false, interactive: false }),
};

// ---- shapes the accounts module may still refine: read what API.md promises, tolerate the rest ----

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function normaliseTxn(raw: unknown): Txn {
  const r = (raw ?? {}) as Record<string, unknown>;
  return {
    id: str(r.id) ?? str(r.transactionId) ?? '',
    bookedAt: str(r.bookedAt) ?? str(r.at) ?? '',
    amount: num(r.amount) ?? 0,
    currency: str(r.currency) ?? 'CNY',
    direction: str(r.direction) ?? ((num(r.amount) ?? 0) < 0 ? 'debit' : 'credit'),
    counterparty: str(r.counterparty),
    description: str(r.description),
    balanceAfter: num(r.balanceAfter),
  };
}

export function normaliseTxnPage(raw: unknown): { items: Txn[]; nextCursor: string | null } {
  const r = (raw ?? {}) as Record<string, unknown>;
  const items = Array.isArray(r.items) ? r.items : Array.isArray(raw) ? raw : [];
  return { items: items.map(normaliseTxn), nextCursor: str(r.nextCursor) };
}

export function normaliseTrends(raw: unknown): TrendPoint[] {
  const r = raw as Record<string, unknown> | unknown[];
  const list = Array.isArray(r) ? r : Array.isArray((r as Record<string, unknown>)?.items) ? ((r as Record<string, unknown>).items as unknown[]) : Array.isArray((r as Record<string, unknown>)?.months) ? ((r as Record<string, unknown>).months as unknown[]) : [];
  return list.map((x) => {
    const p = (x ?? {}) as Record<string, unknown>;
    return { month: str(p.month) ?? '', income: Math.abs(num(p.income) ?? 0), expense: Math.abs(num(p.expense) ?? 0) };
  });
}

export function normaliseOverview(raw: unknown): Overview {
  const r = (raw ?? {}) as Record<string, unknown>;
  const list = (Array.isArray(r.accounts) ? r.accounts : Array.isArray(r.items) ? r.items : Array.isArray(r.cards) ? r.cards : []) as Record<string, unknown>[];
  const accounts: OverviewAccount[] = list.map((a) => {
    const bal = (a.balance ?? {}) as Record<string, unknown>;
    return {
      cardId: str(a.cardId),
      institution: str(a.institution),
      maskedNumber: str(a.maskedNumber),
      kind: str(a.kind),
      available: num(a.available) ?? num(bal.available),
      currency: str(a.currency) ?? str(bal.currency) ?? 'CNY',
      stale: a.stale === true || bal.stale === true,
      unavailable: str(a.unavailable),
    };
  });
  let totals: Overview['totals'] = [];
  if (Array.isArray(r.totals)) {
    totals = (r.totals as Record<string, unknown>[]).map((t) => ({ currency: str(t.currency) ?? 'CNY', available: num(t.available) ?? num(t.total) ?? num(t.amount) ?? 0 }));
  } else if (r.totals && typeof r.totals === 'object') {
    totals = Object.entries(r.totals as Record<string, unknown>).map(([currency, v]) => ({
      currency,
      available: num(v) ?? num((v as Record<string, unknown>)?.available) ?? 0,
    }));
  }
  return { accounts, totals };
}
