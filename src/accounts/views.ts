// The accounts API's JSON shapes (TypeBox: validation, serialisation and OpenAPI at once) and the one mapper from use-case results to them.
import { Type, type Static, type TSchema } from 'typebox';
import { fenToJsonNumber } from '../shared/money.ts';
import type { BalanceView } from './balance.ts';
import type { Overview } from './overview.ts';
import type { QuickBalanceAnswer } from './quick-balance.ts';
import type { CnyEquivalent } from './rates.ts';
import type { StatementItem, StatementPage } from './statements.ts';
import type { Trends } from './trends.ts';

const Fen = (description: string) => Type.Integer({ description });
const Instant = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const CnySchema = Type.Object({
  amount: Fen('the CNY equivalent in fen'),
  rate: Type.String({ description: 'CNY per unit of the account currency' }),
  rateDate: Type.String({ description: 'business day the rate took effect (YYYY-MM-DD)' }),
});

const BalanceCny = Nullable(Type.Object({ available: CnySchema, ledger: CnySchema }));

export const BalanceSchema = Type.Object({
  cardId: Type.String(),
  maskedNumber: Type.String({ description: 'first 6 and last 4 digits' }),
  available: Fen('available balance in minor units of the account currency (fen for CNY)'),
  ledger: Fen('posted (ledger) balance'),
  currency: Type.String(),
  asOf: Instant,
  freshness: Type.Union([Type.Literal('realtime'), Type.Literal('cached'), Type.Literal('t+1')]),
  stale: Type.Boolean({ description: 'true when the core could not be asked and the value is older than the institution allows' }),
  cnyEquivalent: Type.Optional(BalanceCny),
});

export const TransactionSchema = Type.Object({
  id: Type.String(),
  bookedAt: Instant,
  amount: Fen('signed, minor units of the account currency: + money in, − money out'),
  currency: Type.String(),
  direction: Type.Union([Type.Literal('credit'), Type.Literal('debit')]),
  counterparty: Nullable(Type.String()),
  description: Type.String(),
  balanceAfter: Nullable(Fen('posted balance after the entry; null for a hold not yet settled')),
  state: Type.Union([Type.Literal('posted'), Type.Literal('pending')]),
  cnyEquivalent: Type.Optional(Nullable(CnySchema)),
  billRef: Type.Optional(Type.String({ description: 'the entry as a bill: GET /api/v1/bills/{billRef} and contact customer service about it (bound cards only)' })),
});

export const TransactionsSchema = Type.Object({
  cardId: Type.String(),
  maskedNumber: Type.String(),
  items: Type.Array(TransactionSchema),
  nextCursor: Nullable(Type.String()),
  asOf: Instant,
  stale: Type.Boolean(),
  range: Type.Object({
    from: Instant,
    to: Instant,
    earliest: Type.String({ format: 'date-time', description: 'how far back statements reach at this institution' }),
    mode: Type.Union([Type.Literal('paged'), Type.Literal('custom_range')]),
    maxMonths: Type.Integer(),
  }),
});

export const TrendsSchema = Type.Array(
  Type.Object({
    month: Type.String({ description: 'YYYY-MM, Asia/Shanghai' }),
    income: Fen('money in during the month, minor units'),
    expense: Fen('money out during the month, minor units (positive)'),
    currency: Type.String(),
  }),
);

export const OverviewSchema = Type.Object({
  accounts: Type.Array(
    Type.Object({
      cardId: Type.String(),
      institution: Type.String(),
      maskedNumber: Type.String(),
      kind: Type.String(),
      status: Type.String(),
      isDefault: Type.Boolean(),
      currency: Type.String(),
      available: Nullable(Type.Integer()),
      ledger: Nullable(Type.Integer()),
      asOf: Nullable(Instant),
      freshness: Nullable(Type.String()),
      stale: Nullable(Type.Boolean()),
      unavailable: Nullable(Type.String({ description: 'why no balance is shown: step_up_required, card_lost, account_dormant, core_unavailable, …' })),
      cnyEquivalent: Type.Optional(BalanceCny),
    }),
  ),
  totals: Type.Array(
    Type.Object({
      currency: Type.String(),
      available: Type.Integer(),
      ledger: Type.Integer(),
      accounts: Type.Integer({ description: 'accounts summed' }),
      omitted: Type.Integer({ description: 'accounts in this currency left out (balance not shown)' }),
    }),
  ),
  cnyTotal: Type.Optional(Type.Object({ available: Type.Integer(), ledger: Type.Integer(), complete: Type.Boolean() })),
});

export const QuickStartSchema = Type.Object({ challengeId: Type.String(), otpSentTo: Type.String({ description: 'masked phone' }), expiresAt: Instant });

export const QuickAnswerSchema = Type.Object({
  maskedNumber: Type.String(),
  available: Type.Integer(),
  currency: Type.String(),
  asOf: Instant,
  freshness: Type.Literal('t+1'),
  stale: Type.Boolean(),
  lastTransactions: Type.Array(TransactionSchema, { maxItems: 3 }),
});

const n = fenToJsonNumber;

function cnyView(c: CnyEquivalent): Static<typeof CnySchema> {
  return { amount: n(c.amountFen), rate: c.rate, rateDate: c.rateDate };
}

function balanceCny(c: BalanceView['cnyEquivalent']): Static<typeof BalanceCny> {
  return c ? { available: cnyView(c.available), ledger: cnyView(c.ledger) } : null;
}

export function balanceView(b: BalanceView): Static<typeof BalanceSchema> {
  return {
    cardId: b.cardId,
    maskedNumber: b.maskedNumber,
    available: n(b.available),
    ledger: n(b.ledger),
    currency: b.currency,
    asOf: b.asOf.toISOString(),
    freshness: b.freshness,
    stale: b.stale,
    ...(b.cnyEquivalent !== undefined ? { cnyEquivalent: balanceCny(b.cnyEquivalent) } : {}),
  };
}

export function transactionView(i: StatementItem): Static<typeof TransactionSchema> {
  return {
    id: i.id,
    bookedAt: i.bookedAt.toISOString(),
    amount: n(i.amountFen),
    currency: i.currency,
    direction: i.direction,
    counterparty: i.counterparty,
    description: i.description,
    balanceAfter: i.balanceAfterFen === null ? null : n(i.balanceAfterFen),
    state: i.state,
    ...(i.cnyEquivalent !== undefined ? { cnyEquivalent: i.cnyEquivalent ? cnyView(i.cnyEquivalent) : null } : {}),
    ...(i.billRef !== undefined ? { billRef: i.billRef } : {}),
  };
}

export function transactionsView(p: StatementPage): Static<typeof TransactionsSchema> {
  return {
    cardId: p.cardId,
    maskedNumber: p.maskedNumber,
    items: p.items.map(transactionView),
    nextCursor: p.nextCursor,
    asOf: p.asOf.toISOString(),
    stale: p.stale,
    range: { from: p.range.from.toISOString(), to: p.range.to.toISOString(), earliest: p.range.earliest.toISOString(), mode: p.range.mode, maxMonths: p.range.maxMonths },
  };
}

export function trendsView(t: Trends): Static<typeof TrendsSchema> {
  return t.months.map((m) => ({ month: m.month, income: n(m.incomeFen), expense: n(m.expenseFen), currency: m.currency }));
}

export function overviewView(o: Overview): Static<typeof OverviewSchema> {
  return {
    accounts: o.accounts.map((a) => ({
      cardId: a.card.cardId,
      institution: a.institution,
      maskedNumber: a.card.maskedNumber,
      kind: a.card.kind,
      status: a.card.status,
      isDefault: a.card.isDefault,
      currency: a.currency,
      available: a.balance ? n(a.balance.available) : null,
      ledger: a.balance ? n(a.balance.ledger) : null,
      asOf: a.balance ? a.balance.asOf.toISOString() : null,
      freshness: a.balance ? a.balance.freshness : null,
      stale: a.balance ? a.balance.stale : null,
      unavailable: a.unavailable,
      ...(a.cnyEquivalent !== undefined ? { cnyEquivalent: balanceCny(a.cnyEquivalent) } : {}),
    })),
    totals: o.totals.map((t) => ({ currency: t.currency, available: n(t.availableFen), ledger: n(t.ledgerFen), accounts: t.accounts, omitted: t.omitted })),
    ...(o.cnyTotal ? { cnyTotal: { available: n(o.cnyTotal.availableFen), ledger: n(o.cnyTotal.ledgerFen), complete: o.cnyTotal.complete } } : {}),
  };
}

export function quickAnswerView(a: QuickBalanceAnswer): Static<typeof QuickAnswerSchema> {
  return {
    maskedNumber: a.maskedNumber,
    available: n(a.available),
    currency: a.currency,
    asOf: a.asOf.toISOString(),
    freshness: a.freshness,
    stale: a.stale,
    lastTransactions: a.lastTransactions.map(transactionView),
  };
}
