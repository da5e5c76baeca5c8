// The external core's wire format: amounts as decimal strings beyond 2^53, and every off-contract answer refused as a bad response.
import { describe, expect, it } from 'vitest';
import {
  balanceFromWire,
  balanceToWire,
  cardFromWire,
  elementCheckFromWire,
  errorFromWire,
  transactionPageFromWire,
  transactionToWire,
} from '../../../src/core/contract.ts';
import { CoreError, type CoreTransaction } from '../../../src/core/port.ts';

const AS_OF = new Date('2026-01-05T02:00:00.000Z');
const BIG = 9_007_199_254_740_993n; // 2^53 + 1: a JSON number would lose the last fen

function expectBad(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CoreError);
    expect((err as CoreError).kind).toBe('bad_response');
    return;
  }
  throw new Error('expected a bad_response');
}

const txn: CoreTransaction = {
  id: 'tr_1',
  bookedAt: AS_OF,
  amountFen: -BIG,
  currency: 'CNY',
  direction: 'debit',
  counterparty: '美团外卖',
  description: '外卖',
  balanceAfterFen: BIG,
  state: 'posted',
};

const card = {
  cardId: 'card_1',
  kind: 'debit',
  currency: 'CNY',
  status: 'active',
  maskedNumber: '622848*********8903',
  last4: '8903',
  crossBorderLock: true,
  lastActivityAt: AS_OF.toISOString(),
  statusChangedAt: AS_OF.toISOString(),
};

describe('core contract', () => {
  it('carries balances exactly past 2^53 fen through the wire and back', () => {
    const wire = balanceToWire('card_1', { availableFen: BIG, ledgerFen: -5n, currency: 'CNY', asOf: AS_OF });
    expect(wire).toEqual({ cardId: 'card_1', currency: 'CNY', availableFen: '9007199254740993', ledgerFen: '-5', asOf: '2026-01-05T02:00:00.000Z' });
    const back = balanceFromWire(JSON.parse(JSON.stringify(wire)), 'card_1');
    expect(back).toEqual({ availableFen: BIG, ledgerFen: -5n, currency: 'CNY', asOf: AS_OF });
  });

  it("refuses a balance of another card, a number amount, a malformed amount or time", () => {
    const good = balanceToWire('card_1', { availableFen: 1n, ledgerFen: 1n, currency: 'CNY', asOf: AS_OF });
    expectBad(() => balanceFromWire(good, 'card_2'));
    expectBad(() => balanceFromWire({ ...good, availableFen: 100 }, 'card_1'));
    expectBad(() => balanceFromWire({ ...good, availableFen: '01' }, 'card_1'));
    expectBad(() => balanceFromWire({ ...good, asOf: 'yesterday' }, 'card_1'));
    expectBad(() => balanceFromWire({ ...good, currency: 'cny' }, 'card_1'));
    expectBad(() => balanceFromWire(undefined, 'card_1'));
  });

  it('round-trips a transaction page and refuses a sign that contradicts the direction', () => {
    const wire = { items: [transactionToWire(txn)], nextCursor: null };
    expect(transactionPageFromWire(JSON.parse(JSON.stringify(wire)))).toEqual({ items: [txn], nextCursor: null });
    expectBad(() => transactionPageFromWire({ items: [{ ...transactionToWire(txn), direction: 'credit' }], nextCursor: null }));
    expectBad(() => transactionPageFromWire({ items: [{ ...transactionToWire(txn), state: 'maybe' }], nextCursor: null }));
    expectBad(() => transactionPageFromWire({ items: [], nextCursor: '' }));
  });

  it('reads card status and element checks, and refuses unknown statuses', () => {
    expect(cardFromWire(card, 'bank-a', 'card_1')).toMatchObject({ id: 'card_1', tenantId: 'bank-a', status: 'active', lastActivityAt: AS_OF });
    expectBad(() => cardFromWire({ ...card, status: 'sleeping' }, 'bank-a'));
    expectBad(() => cardFromWire(card, 'bank-a', 'card_2'));
    expect(elementCheckFromWire({ match: false }, 'bank-a')).toEqual({ match: false });
    expect(elementCheckFromWire({ match: true, card }, 'bank-a')).toMatchObject({ match: true, card: { id: 'card_1' } });
    expectBad(() => elementCheckFromWire({ match: true }, 'bank-a'));
  });

  it('recognises contract error bodies only', () => {
    expect(errorFromWire({ code: 'card_not_found', message: 'no' })).toEqual({ code: 'card_not_found', message: 'no' });
    expect(errorFromWire({ code: 'teapot', message: 'no' })).toBeUndefined();
    expect(errorFromWire('oops')).toBeUndefined();
  });
});
