// Statement windows per tenant policy (6 months, 1 year paged, custom range), trend months and totals per currency.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { addToBuckets, monthBuckets, shanghaiDay, statementRange, stepUpAmount, totalsPerCurrency, trendMonthCount } from '../../../src/accounts/policy.ts';

// Wednesday 18 March 2026, 14:30 in Shanghai.
const NOW = new Date('2026-03-18T06:30:00Z');
const paged12 = { maxMonths: 12, mode: 'paged' as const };
const paged6 = { maxMonths: 6, mode: 'paged' as const };
const custom24 = { maxMonths: 24, mode: 'custom_range' as const };

function fieldErrors(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('validation_failed');
    return (err as AppError).extra.errors as { field: string; message: string }[];
  }
  throw new Error('expected validation_failed');
}

describe('statement window', () => {
  it('reaches back maxMonths to the start of that Shanghai day and forward to the end of today', () => {
    const r = statementRange(paged12, {}, NOW);
    expect(r.earliest).toEqual(new Date('2025-03-17T16:00:00Z')); // 2025-03-18 00:00 Shanghai
    expect(r.latest).toEqual(new Date('2026-03-18T15:59:59.999Z'));
    expect(r).toMatchObject({ from: r.earliest, to: r.latest, mode: 'paged', maxMonths: 12 });
    expect(shanghaiDay(statementRange(paged6, {}, NOW).earliest)).toBe('2025-09-18');
  });

  it('pages a paged tenant by whole calendar months and refuses a free from/to, naming the mode', () => {
    const feb = statementRange(paged12, { month: '2026-02' }, NOW);
    expect(feb.from).toEqual(new Date('2026-01-31T16:00:00Z'));
    expect(feb.to).toEqual(new Date('2026-02-28T15:59:59.999Z'));
    // The current month ends today; the oldest month starts at the window's edge.
    expect(statementRange(paged12, { month: '2026-03' }, NOW).to).toEqual(new Date('2026-03-18T15:59:59.999Z'));
    expect(statementRange(paged12, { month: '2025-03' }, NOW).from).toEqual(new Date('2025-03-17T16:00:00Z'));
    const errs = fieldErrors(() => statementRange(paged12, { from: '2026-01-01', to: '2026-01-31' }, NOW));
    expect(errs.map((e) => e.field)).toEqual(['from', 'to']);
    expect(errs[0]!.message).toMatch(/pages back in time \(12 months\)/);
  });

  it('refuses months outside the window or malformed, and a month with from/to', () => {
    expect(fieldErrors(() => statementRange(paged12, { month: '2025-02' }, NOW))[0]).toMatchObject({ field: 'month', message: expect.stringMatching(/before the statement window.*2025-03-18/) });
    expect(fieldErrors(() => statementRange(paged12, { month: '2026-04' }, NOW))[0]).toMatchObject({ field: 'month', message: 'must not be in the future' });
    for (const bad of ['2026-13', '2026-3', '202603', 'March']) expect(fieldErrors(() => statementRange(paged12, { month: bad }, NOW))[0]!.field).toBe('month');
    expect(fieldErrors(() => statementRange(custom24, { month: '2026-01', from: '2026-01-02' }, NOW))[0]!.field).toBe('month');
  });

  it('takes any from/to inside a custom-range window, as Shanghai dates or RFC 3339 instants', () => {
    const r = statementRange(custom24, { from: '2024-03-18', to: '2024-04-01' }, NOW);
    expect(r.from).toEqual(new Date('2024-03-17T16:00:00Z'));
    expect(r.to).toEqual(new Date('2024-04-01T15:59:59.999Z'));
    const t = statementRange(custom24, { from: '2026-03-01T08:00:00+08:00', to: '2026-03-18T06:00:00Z' }, NOW);
    expect(t.from).toEqual(new Date('2026-03-01T00:00:00Z'));
    expect(t.to).toEqual(new Date('2026-03-18T06:00:00Z'));
    expect(statementRange(custom24, { from: '2026-03-01' }, NOW).to).toEqual(r.latest);
    expect(statementRange(custom24, { to: '2026-03-01' }, NOW).from).toEqual(r.earliest);
  });

  it('names each bad bound of a custom range', () => {
    expect(fieldErrors(() => statementRange(custom24, { from: '2024-03-17' }, NOW))).toEqual([
      { field: 'from', message: expect.stringMatching(/^must not be before 2024-03-18: statements here reach back 24 months/) },
    ]);
    expect(fieldErrors(() => statementRange(custom24, { to: '2026-03-19' }, NOW))).toEqual([{ field: 'to', message: 'must not be after today (Asia/Shanghai)' }]);
    expect(fieldErrors(() => statementRange(custom24, { from: '2026-03-10', to: '2026-03-01' }, NOW))).toEqual([{ field: 'from', message: 'must not be after to' }]);
    const both = fieldErrors(() => statementRange(custom24, { from: '2026-02-30', to: 'yesterday' }, NOW));
    expect(both.map((e) => e.field)).toEqual(['from', 'to']);
    // A date-time without an offset is ambiguous: refused.
    expect(fieldErrors(() => statementRange(custom24, { from: '2026-03-01T08:00:00' }, NOW))[0]!.field).toBe('from');
  });
});

describe('trend months', () => {
  it('accepts 1 to 24 months, 12 by default', () => {
    expect(trendMonthCount(undefined)).toBe(12);
    expect(trendMonthCount(24)).toBe(24);
    for (const bad of [0, 25, 1.5, -3]) expect(fieldErrors(() => trendMonthCount(bad))[0]!.field).toBe('months');
  });

  it('lists the last N Shanghai calendar months oldest first, the current one included', () => {
    const b = monthBuckets(3, NOW);
    expect(b.map((x) => x.month)).toEqual(['2026-01', '2026-02', '2026-03']);
    expect(b[0]!.start).toEqual(new Date('2025-12-31T16:00:00Z'));
    expect(b[2]!.end).toEqual(new Date('2026-03-31T16:00:00Z'));
    expect(monthBuckets(24, NOW)[0]!.month).toBe('2024-04');
    // 1 January 00:30 in Shanghai is still 31 December in UTC.
    expect(monthBuckets(1, new Date('2025-12-31T16:30:00Z'))[0]!.month).toBe('2026-01');
  });

  it('adds money in as income and money out as expense to the right month, by Shanghai time', () => {
    const b = monthBuckets(2, NOW);
    expect(addToBuckets(b, { bookedAt: new Date('2026-02-28T16:00:00Z'), amountFen: 500n })).toBe(true); // 1 March 00:00 Shanghai
    expect(addToBuckets(b, { bookedAt: new Date('2026-02-28T15:59:59Z'), amountFen: -200n })).toBe(true);
    expect(addToBuckets(b, { bookedAt: new Date('2026-03-10T00:00:00Z'), amountFen: -300n })).toBe(true);
    expect(addToBuckets(b, { bookedAt: new Date('2026-01-31T15:59:59Z'), amountFen: 999n })).toBe(false);
    expect(b.map((x) => [x.month, x.incomeFen, x.expenseFen])).toEqual([
      ['2026-02', 0n, 200n],
      ['2026-03', 500n, 300n],
    ]);
  });
});

describe('totals per currency', () => {
  it('sums each currency apart, counting what was left out', () => {
    const t = totalsPerCurrency([
      { currency: 'CNY', balance: { availableFen: 100n, ledgerFen: 120n } },
      { currency: 'USD', balance: { availableFen: 5n, ledgerFen: 5n } },
      { currency: 'CNY', balance: { availableFen: 50n, ledgerFen: 50n } },
      { currency: 'CNY', balance: null },
    ]);
    expect(t).toEqual([
      { currency: 'CNY', availableFen: 150n, ledgerFen: 170n, accounts: 2, omitted: 1 },
      { currency: 'USD', availableFen: 5n, ledgerFen: 5n, accounts: 1, omitted: 0 },
    ]);
    expect(totalsPerCurrency([])).toEqual([]);
  });

  it('compares the larger balance with the step-up threshold', () => {
    expect(stepUpAmount({ available: 10n, ledger: 12n })).toBe(12n);
    expect(stepUpAmount({ available: 15n, ledger: 12n })).toBe(15n);
  });
});
