// CNY conversion: banker's rounding, minor-unit exponents, rate parsing and formatting, the rate book's "in force on a day".
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { divideHalfEven, formatMinor, formatRate, MAX_RATE_SCALED, parseRate, RATE_SCALE, toCnyFen } from '../../../src/accounts/conversion.ts';
import { RateBook } from '../../../src/accounts/rates.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('accounts/conversion');

describe('divideHalfEven', () => {
  it('rounds ties to the even neighbour and everything else to the nearest, for every sign', () => {
    expect(divideHalfEven(5n, 2n)).toBe(2n); // 2.5 → 2
    expect(divideHalfEven(7n, 2n)).toBe(4n); // 3.5 → 4
    expect(divideHalfEven(-5n, 2n)).toBe(-2n);
    expect(divideHalfEven(-7n, 2n)).toBe(-4n);
    expect(divideHalfEven(5n, -2n)).toBe(-2n);
    expect(divideHalfEven(10n, 4n)).toBe(2n); // 2.5 → 2
    expect(divideHalfEven(11n, 4n)).toBe(3n); // 2.75 → 3
    expect(divideHalfEven(9n, 4n)).toBe(2n); // 2.25 → 2
    expect(divideHalfEven(-11n, 4n)).toBe(-3n);
    expect(divideHalfEven(0n, 7n)).toBe(0n);
    expect(() => divideHalfEven(1n, 0n)).toThrow(RangeError);
  });

  it('is never more than half a unit from the exact quotient, and is symmetric in sign', () => {
    check(
      seed,
      fc.property(fc.bigInt(-(10n ** 20n), 10n ** 20n), fc.bigInt(1n, 10n ** 12n), (n, d) => {
        const q = divideHalfEven(n, d);
        const err = n * 2n - q * 2n * d; // 2·(n − q·d)
        expect(err <= d && err >= -d).toBe(true);
        expect(divideHalfEven(-n, d)).toBe(-q);
        if (err === d || err === -d) expect(q % 2n).toBe(0n);
      }),
    );
  });
});

describe('toCnyFen', () => {
  it('converts cents at a rate of CNY per dollar, rounding half to even once', () => {
    const usd = parseRate('7.1234')!;
    expect(toCnyFen(10_000n, 'USD', usd)).toBe(71_234n); // $100.00 → ¥712.34
    expect(toCnyFen(-3_500n, 'USD', usd)).toBe(-24_932n); // −$35.00 → −¥249.319 → −¥249.32
    // $0.01 × 7.25 = ¥0.0725 → 7.25 fen → 7 (the 0.25 rounds down); 7.5 fen → 8 (tie to even), 6.5 → 6.
    expect(toCnyFen(1n, 'USD', parseRate('7.25')!)).toBe(7n);
    expect(toCnyFen(1n, 'USD', parseRate('7.5')!)).toBe(8n);
    expect(toCnyFen(1n, 'USD', parseRate('6.5')!)).toBe(6n);
  });

  it('reads yen and won as whole units (exponent 0)', () => {
    // ¥10,000 JPY at 0.0475 CNY per yen = ¥475.00.
    expect(toCnyFen(10_000n, 'JPY', parseRate('0.0475')!)).toBe(47_500n);
    expect(toCnyFen(1n, 'KRW', parseRate('0.00525')!)).toBe(1n); // 0.525 fen → 1
  });

  it('leaves CNY alone and refuses unknown currencies and absurd rates', () => {
    expect(toCnyFen(123n, 'CNY', 1n)).toBe(123n);
    expect(() => toCnyFen(1n, 'XAU', RATE_SCALE)).toThrow(RangeError);
    expect(() => toCnyFen(1n, 'USD', 0n)).toThrow(RangeError);
    expect(() => toCnyFen(1n, 'USD', MAX_RATE_SCALED + 1n)).toThrow(RangeError);
  });

  it('is additive up to a fen per item: converting parts never drifts from converting the whole by more', () => {
    check(
      seed,
      fc.property(fc.array(fc.bigInt(-(10n ** 12n), 10n ** 12n), { minLength: 1, maxLength: 20 }), fc.bigInt(1n, MAX_RATE_SCALED), (parts, rate) => {
        const whole = toCnyFen(parts.reduce((a, b) => a + b, 0n), 'USD', rate);
        const sum = parts.reduce((a, p) => a + toCnyFen(p, 'USD', rate), 0n);
        const diff = whole > sum ? whole - sum : sum - whole;
        expect(diff <= BigInt(parts.length)).toBe(true);
      }),
    );
  });
});

describe('rates as text', () => {
  it('parses up to 8 decimals and formats back without trailing zeros', () => {
    expect(parseRate('7.1234')).toBe(712_340_000n);
    expect(parseRate('0.00000001')).toBe(1n);
    expect(parseRate('10000')).toBe(MAX_RATE_SCALED);
    for (const bad of ['', '0', '0.0', '-1', '1e3', '7.123456789', '10000.01', ' 7.1', '7,1']) expect(parseRate(bad)).toBeUndefined();
    expect(formatRate(712_340_000n)).toBe('7.1234');
    expect(formatRate(7n * RATE_SCALE)).toBe('7');
    expect(formatRate(1n)).toBe('0.00000001');
  });

  it('formats amounts in their currency’s minor unit', () => {
    expect(formatMinor(-3_500n, 'USD')).toBe('-35.00');
    expect(formatMinor(5n, 'CNY')).toBe('0.05');
    expect(formatMinor(-5n, 'CNY')).toBe('-0.05');
    expect(formatMinor(123_456_789n, 'CNY')).toBe('1234567.89');
    expect(formatMinor(1_200n, 'JPY')).toBe('1200');
    expect(formatMinor(0n, 'XXX')).toBe('0.00');
  });
});

describe('RateBook', () => {
  const book = new RateBook([
    { currency: 'USD', effectiveOn: '2026-02-01', rateScaled: parseRate('7.20')! },
    { currency: 'USD', effectiveOn: '2026-01-01', rateScaled: parseRate('7.10')! },
    { currency: 'JPY', effectiveOn: '2026-01-15', rateScaled: parseRate('0.047')! },
  ]);

  it('uses the rate in force on the Shanghai business day of the instant', () => {
    // 2026-01-31T16:30Z is 2026-02-01 00:30 in Shanghai: February's rate.
    expect(book.cny(100n, 'USD', new Date('2026-01-31T16:30:00Z'))).toEqual({ amountFen: 720n, rate: '7.2', rateDate: '2026-02-01' });
    expect(book.cny(100n, 'USD', new Date('2026-01-31T15:59:00Z'))).toEqual({ amountFen: 710n, rate: '7.1', rateDate: '2026-01-01' });
  });

  it('has no equivalent before the first rate, for unknown currencies, and is the identity for CNY', () => {
    expect(book.cny(100n, 'USD', new Date('2025-12-31T00:00:00Z'))).toBeUndefined();
    expect(book.cny(100n, 'EUR', new Date('2026-03-01T00:00:00Z'))).toBeUndefined();
    expect(book.cny(100n, 'XAU', new Date('2026-03-01T00:00:00Z'))).toBeUndefined();
    expect(book.cny(100n, 'CNY', new Date('2026-03-01T00:00:00Z'))).toMatchObject({ amountFen: 100n, rate: '1' });
  });
});
