// Pure top-up rules: PBOC caps, method limits with min/max, fees, card statuses, review decisions and four-eyes, message text.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { presetPolicy } from '../../../src/tenants/index.ts';
import { ANONYMOUS_CARD_CAP_FEN, REGISTERED_CARD_CAP_FEN, cardStatusRefusal, citizenStatusOf, instrumentOf, quoteTopup, withinCap, yuanText } from '../../../src/topup/policy.ts';
import { allowedDecisions, needsFourEyes } from '../../../src/topup/review-decide.ts';
import { messageData } from '../../../src/topup/messages.ts';

const policy = presetPolicy('citizen-card');
const base = { realName: true, storedFen: 0n, openOrdersFen: 0n };

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('top-up policy', () => {
  it('caps registered cards at ¥5,000 and anonymous cards at ¥1,000 (PBOC prepaid-card rules)', () => {
    expect(REGISTERED_CARD_CAP_FEN).toBe(500_000n);
    expect(ANONYMOUS_CARD_CAP_FEN).toBe(100_000n);
    expect(withinCap(false, 90_000n, 10_000n)).toBe(true);
    expect(withinCap(false, 90_000n, 10_001n)).toBe(false);
  });

  it('prices each method: 零钱 free, bank card at 0.1 % up to ¥5, credit card at 0.6 %', () => {
    expect(quoteTopup(policy, { ...base, method: 'wechat_balance', amountFen: 10_000n })).toMatchObject({ feeFen: 0n, totalFen: 10_000n });
    expect(quoteTopup(policy, { ...base, method: 'bank_card', amountFen: 100_000n })).toMatchObject({ feeFen: 100n, totalFen: 100_100n });
    expect(quoteTopup(policy, { ...base, method: 'bank_card', amountFen: 500_000n })).toMatchObject({ feeFen: 500n });
    expect(quoteTopup(policy, { ...base, method: 'credit_card', amountFen: 50_000n })).toMatchObject({ feeFen: 300n, totalFen: 50_300n });
  });

  it('answers amount_out_of_range with the method’s min and max', () => {
    const low = refusal(() => quoteTopup(policy, { ...base, method: 'wechat_balance', amountFen: 4_999n }));
    expect(low.code).toBe('amount_out_of_range');
    expect(low.extra).toMatchObject({ min: 5_000, max: 200_000 });
    const high = refusal(() => quoteTopup(policy, { ...base, method: 'credit_card', amountFen: 100_001n }));
    expect(high.extra).toMatchObject({ min: 30_000, max: 100_000 });
  });

  it('lowers max to the room under the stored-value cap, counting open orders', () => {
    const e = refusal(() => quoteTopup(policy, { method: 'wechat_balance', amountFen: 60_000n, realName: false, storedFen: 30_000n, openOrdersFen: 20_000n }));
    expect(e.code).toBe('amount_out_of_range');
    expect(e.extra).toMatchObject({ min: 5_000, max: 50_000, reason: 'stored_value_limit' });
    const full = refusal(() => quoteTopup(policy, { method: 'wechat_balance', amountFen: 5_000n, realName: false, storedFen: 99_000n, openOrdersFen: 0n }));
    expect(full.extra).toMatchObject({ max: 1_000 });
  });

  it('refuses a method the operator does not offer', () => {
    const off = { ...policy, topup: { ...policy.topup, methods: { ...policy.topup.methods, credit_card: { ...policy.topup.methods.credit_card, enabled: false } } } };
    expect(refusal(() => quoteTopup(off, { ...base, method: 'credit_card', amountFen: 50_000n })).code).toBe('validation_failed');
  });

  it('maps core card statuses to citizen-card statuses and refusals', () => {
    expect(citizenStatusOf('active')).toBe('normal');
    expect(citizenStatusOf('dormant')).toBe('normal');
    expect(citizenStatusOf('lost')).toBe('lost');
    expect(citizenStatusOf('cancelled')).toBe('cancelled');
    expect(cardStatusRefusal('lost')?.code).toBe('card_lost');
    expect(cardStatusRefusal('cancelled')?.code).toBe('card_cancelled');
    expect(cardStatusRefusal('frozen')?.code).toBe('card_frozen');
    expect(cardStatusRefusal('active')).toBeUndefined();
  });

  it('reads bank_type as the instrument that paid', () => {
    expect(instrumentOf('OTHERS')).toBe('wechat_balance');
    expect(instrumentOf('ICBC_DEBIT')).toBe('bank_card');
    expect(instrumentOf('CMB_CREDIT')).toBe('credit_card');
  });

  it('formats fen as yuan text', () => {
    expect(yuanText(12_345n)).toBe('123.45');
    expect(yuanText(5n)).toBe('0.05');
    expect(yuanText(-100n)).toBe('-1.00');
  });

  it('offers reviewers only the decisions that fit the item', () => {
    expect(allowedDecisions({ class: 'amount_mismatch', heldFen: 100n, amountFen: 100n, orderId: 'tu_1', outTradeNo: 'TU1' })).toEqual(['credit', 'refund']);
    expect(allowedDecisions({ class: 'unknown_payment', heldFen: 0n, amountFen: 100n, orderId: null, outTradeNo: 'TU1' })).toEqual(['reject']);
    expect(allowedDecisions({ class: 'credited_not_paid', heldFen: 0n, amountFen: -100n, orderId: 'tu_1', outTradeNo: 'TU1' })).toEqual(['credit', 'reject']);
    expect(allowedDecisions({ class: 'amount_mismatch', heldFen: 0n, amountFen: 100n, orderId: 'tu_1', outTradeNo: 'TU1' })).toEqual(['credit', 'refund', 'reject']);
    expect(allowedDecisions({ class: 'amount_mismatch', heldFen: 0n, amountFen: -100n, orderId: 'tu_1', outTradeNo: 'TU1' })).toEqual(['reject']);
  });

  it('asks for a second reviewer at or above the threshold, by the larger of stake and held money', () => {
    expect(needsFourEyes({ amountFen: 99_999n, heldFen: 0n }, 100_000n)).toBe(false);
    expect(needsFourEyes({ amountFen: -100_000n, heldFen: 0n }, 100_000n)).toBe(true);
    expect(needsFourEyes({ amountFen: 10n, heldFen: 100_000n }, 100_000n)).toBe(true);
  });

  it('writes messages with the amount in yuan, the masked card and the expected arrival', () => {
    const order = { id: 'tu_x', amount_fen: 10_000n, card_masked: '623091*********1234', expected_arrival: new Date('2026-03-18T10:00:00Z'), load_deadline: null, refunded_fen: 0n } as never;
    const d = messageData(order, 'delay', new Date('2026-03-18T08:30:00Z'));
    expect(d.keyword1!.value).toBe('100.00元');
    expect(d.keyword2!.value).toBe('623091*********1234');
    expect(d.keyword3!.value).toBe('预计18:00前到账');
  });
});
