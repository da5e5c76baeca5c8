// The built-in core: the CoreBanking port over wecard's own ledger and core records (real time, same database).
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { getBalance, history } from '../ledger/index.ts';
import type { Entry } from '../ledger/index.ts';
import { verifyCardElements, type CardElements } from './card-state.ts';
import { getCard, type CoreCard } from './store.ts';
import {
  CoreError,
  DEFAULT_TRANSACTIONS_PAGE,
  type BalanceOptions,
  type CardKey,
  type CoreBalance,
  type CoreBanking,
  type CoreCardStatus,
  type CoreTransaction,
  type ElementCheck,
  type TransactionPage,
  type TransactionQuery,
} from './port.ts';

export type BuiltinCoreContext = Pick<AppContext, 'db' | 'clock' | 'crypto'>;

export function toCardStatus(c: CoreCard): CoreCardStatus {
  return {
    id: c.id,
    tenantId: c.tenantId,
    kind: c.kind,
    currency: c.currency,
    status: c.status,
    maskedNumber: c.maskedNumber,
    last4: c.last4,
    crossBorderLock: c.crossBorderLock,
    lastActivityAt: c.lastActivityAt,
    statusChangedAt: c.statusChangedAt,
  };
}

function toTransaction(e: Entry, currency: string): CoreTransaction {
  return {
    id: e.transferId,
    bookedAt: e.bookedAt,
    amountFen: e.amountFen,
    currency,
    direction: e.direction,
    counterparty: e.counterparty,
    description: e.description,
    balanceAfterFen: e.balanceAfterFen,
    state: e.state,
  };
}

/**
 * The ledger is the core: balances are the ledger account's cached totals (the batched hot read),
 * statements its history. It is never "unreachable" apart from the database itself, so it has no
 * breaker and the service keeps no last-known values for it.
 */
export class BuiltinCore implements CoreBanking {
  readonly kind = 'builtin' as const;
  readonly remote = false;
  readonly breaker = undefined;

  constructor(private readonly ctx: BuiltinCoreContext) {}

  /** The card's ledger account and currency; `not_found` for an unknown card or another institution's. */
  private async account(card: CardKey): Promise<{ accountId: string; currency?: string }> {
    if (card.ledgerAccountId) return { accountId: card.ledgerAccountId };
    const c = await getCard(this.ctx.db, card.id);
    if (!c || c.tenantId !== card.tenantId) throw new CoreError('not_found', `no card ${card.id} at ${card.tenantId}`);
    return { accountId: c.ledgerAccountId, currency: c.currency };
  }

  async balance(card: CardKey, opts: BalanceOptions = {}): Promise<CoreBalance> {
    const { accountId } = await this.account(card);
    const b = await getBalance(this.ctx.db, accountId, { asOf: opts.asOf, now: this.ctx.clock.now() });
    return { availableFen: b.availableFen, ledgerFen: b.postedFen, currency: b.currency, asOf: b.asOf };
  }

  async transactions(card: CardKey, q: TransactionQuery): Promise<TransactionPage> {
    const c = await getCard(this.ctx.db, card.id);
    if (!c || c.tenantId !== card.tenantId) throw new CoreError('not_found', `no card ${card.id} at ${card.tenantId}`);
    try {
      const page = await history(this.ctx.db, c.ledgerAccountId, {
        from: q.from,
        to: q.to,
        cursor: q.cursor,
        limit: q.limit ?? DEFAULT_TRANSACTIONS_PAGE,
        direction: q.direction,
      });
      return { items: page.items.map((e) => toTransaction(e, c.currency)), nextCursor: page.nextCursor };
    } catch (err) {
      // The ledger refuses a cursor from another account or a bad range as validation_failed.
      if (err instanceof AppError && err.code === 'validation_failed') throw new CoreError('rejected', err.message);
      throw err;
    }
  }

  async verifyElements(tenantId: string, elements: CardElements): Promise<ElementCheck> {
    const r = await verifyCardElements(this.ctx.db, this.ctx.crypto, tenantId, elements);
    return r.match ? { match: true, card: toCardStatus(r.card) } : { match: false };
  }

  async cardStatus(card: CardKey): Promise<CoreCardStatus> {
    const c = await getCard(this.ctx.db, card.id);
    if (!c || c.tenantId !== card.tenantId) throw new CoreError('not_found', `no card ${card.id} at ${card.tenantId}`);
    return toCardStatus(c);
  }
}

export function createBuiltinCore(ctx: BuiltinCoreContext): BuiltinCore {
  return new BuiltinCore(ctx);
}
