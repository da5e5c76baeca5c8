// Reconciliation classification: each bill payment and each recorded payment lands in exactly one class.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyDay, countFindings, type BillPayment, type RecordedAttempt } from '../../../src/topup/recon-policy.ts';
import { check, propertySeed } from '../shared/seed.ts';

const rec = (outTradeNo: string, o: Partial<RecordedAttempt> = {}): [string, RecordedAttempt] => [outTradeNo, { outTradeNo, state: 'paid', paidFen: 100n, duplicate: false, paidOnDay: true, ...o }];
const bill = (outTradeNo: string, fen = 100n): BillPayment => ({ outTradeNo, transactionId: '4200', fen });

describe('reconciliation classification', () => {
  it('classifies matched, paid-not-credited, credited-not-paid, duplicate, amount mismatch and unknown payments', () => {
    const recorded = new Map([
      rec('TUmatch'),
      rec('TUopen', { state: 'open', paidFen: null, paidOnDay: false }),
      rec('TUnobill'),
      rec('TUdup', { duplicate: true }),
      rec('TUamount', { paidFen: 100n }),
    ]);
    const findings = classifyDay([bill('TUmatch'), bill('TUopen'), bill('TUdup'), bill('TUamount', 150n), bill('TUghost')], recorded);
    const byNo = Object.fromEntries(findings.map((f) => [f.outTradeNo, f.class]));
    expect(byNo).toEqual({ TUmatch: 'matched', TUopen: 'paid_not_credited', TUnobill: 'credited_not_paid', TUdup: 'duplicate_payment', TUamount: 'amount_mismatch', TUghost: 'unknown_payment' });
    expect(findings.find((f) => f.outTradeNo === 'TUamount')).toMatchObject({ billFen: 150n, recordedFen: 100n });
    expect(countFindings(findings)).toEqual({ matched: 1, paid_not_credited: 1, credited_not_paid: 1, duplicate_payment: 1, amount_mismatch: 1, unknown_payment: 1 });
  });

  it('does not call a payment recorded on another day credited-not-paid', () => {
    expect(classifyDay([], new Map([rec('TUother', { paidOnDay: false })]))).toEqual([]);
  });

  const seed = propertySeed('test/unit/topup/recon-policy.test.ts');
  it('reports every bill payment and every payment recorded on the day exactly once', () => {
    const ids = fc.constantFrom('TUa', 'TUb', 'TUc', 'TUd', 'TUe', 'TUf');
    check(
      seed,
      fc.property(
        fc.uniqueArray(fc.record({ id: ids, fen: fc.bigInt({ min: 1n, max: 1000n }) }), { selector: (r) => r.id }),
        fc.uniqueArray(fc.record({ id: ids, paid: fc.boolean(), fen: fc.bigInt({ min: 1n, max: 1000n }), dup: fc.boolean(), onDay: fc.boolean() }), { selector: (r) => r.id }),
        (b, r) => {
          const recorded = new Map(r.map((x) => rec(x.id, { state: x.paid ? 'paid' : 'open', paidFen: x.paid ? x.fen : null, duplicate: x.dup, paidOnDay: x.onDay && x.paid })));
          const findings = classifyDay(b.map((x) => bill(x.id, x.fen)), recorded);
          const expected = new Set([...b.map((x) => x.id), ...r.filter((x) => x.paid && x.onDay).map((x) => x.id)]);
          expect(findings.map((f) => f.outTradeNo).sort()).toEqual([...expected].sort());
        },
      ),
    );
  });
});
