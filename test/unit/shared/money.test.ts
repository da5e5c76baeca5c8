// Money: strict yuan parsing, display forms, 大写 per the PBOC rules, spoken form, fen invariants, JSON safety.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_FEN,
  MAX_JSON_FEN,
  MoneyError,
  assertFen,
  assertNonNegativeFen,
  assertPositiveFen,
  fenFromJson,
  fenToChineseUpper,
  fenToJsonNumber,
  fenToSpokenChinese,
  formatFen,
  formatFenPlain,
  isFen,
  parseYuan,
} from '../../../src/shared/money.ts';
import { AppError } from '../../../src/app/errors.ts';
import { check, propertySeed } from './seed.ts';

const seed = propertySeed('money');
const fenArb = fc.bigInt({ min: -MAX_FEN, max: MAX_FEN });

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof MoneyError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('parseYuan', () => {
  it('turns yuan text into integer fen', () => {
    expect(parseYuan('1234.56')).toBe(123456n);
    expect(parseYuan('5')).toBe(500n);
    expect(parseYuan('0.5')).toBe(50n);
    expect(parseYuan('0.05')).toBe(5n);
    expect(parseYuan('0')).toBe(0n);
    expect(parseYuan('  100.1 ')).toBe(10010n);
    expect(parseYuan('9999999999999999.99')).toBe(MAX_FEN);
  });

  it('rejects garbage, exponents, a third decimal and separators with a typed reason', () => {
    expect(reasonOf(() => parseYuan(''))).toBe('empty');
    expect(reasonOf(() => parseYuan('   '))).toBe('empty');
    expect(reasonOf(() => parseYuan('1e3'))).toBe('exponent');
    expect(reasonOf(() => parseYuan('1.5E+2'))).toBe('exponent');
    expect(reasonOf(() => parseYuan('1.234'))).toBe('too_many_decimals');
    expect(reasonOf(() => parseYuan('0.001'))).toBe('too_many_decimals');
    for (const bad of ['abc', '1,234.56', '¥12', '.5', '5.', '01', '00.5', '+5', '1 000', '0x10', 'NaN', 'Infinity', '1.2.3', '１２']) {
      expect(reasonOf(() => parseYuan(bad)), bad).toBe('malformed');
    }
    expect(reasonOf(() => parseYuan('10000000000000000'))).toBe('too_large');
  });

  it('rejects a negative amount unless asked to accept one', () => {
    expect(reasonOf(() => parseYuan('-1.00'))).toBe('negative');
    expect(parseYuan('-1.05', { allowNegative: true })).toBe(-105n);
  });

  it('raises a validation_failed AppError naming the field, without echoing the input', () => {
    let err: unknown;
    try {
      parseYuan('12.345abc', { field: 'body.amount' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    const app = err as AppError;
    expect(app.code).toBe('validation_failed');
    expect(app.status).toBe(400);
    expect(app.extra.errors).toEqual([{ field: 'body.amount', message: expect.any(String) }]);
    expect(app.message).not.toContain('12.345abc');
  });

  it('round-trips with formatFenPlain for every amount (property)', () => {
    check(
      seed,
      fc.property(fenArb, (fen) => {
        expect(parseYuan(formatFenPlain(fen), { allowNegative: true })).toBe(fen);
      }),
    );
  });
});

describe('formatFen and formatFenPlain', () => {
  it('show yuan with two decimals, thousands separators and the sign before ¥', () => {
    expect(formatFen(123456n)).toBe('¥1,234.56');
    expect(formatFen(-123456n)).toBe('-¥1,234.56');
    expect(formatFen(0n)).toBe('¥0.00');
    expect(formatFen(5n)).toBe('¥0.05');
    expect(formatFen(100000000n)).toBe('¥1,000,000.00');
    expect(formatFen(99999n)).toBe('¥999.99');
    expect(formatFenPlain(123456n)).toBe('1234.56');
    expect(formatFenPlain(-5n)).toBe('-0.05');
    expect(formatFenPlain(100n)).toBe('1.00');
  });

  it('refuse a number where a bigint is required', () => {
    expect(() => formatFen(100 as unknown as bigint)).toThrow(TypeError);
  });
});

describe('fenToChineseUpper (中文大写金额)', () => {
  const cases: [string, string][] = [
    ['1234.56', '壹仟贰佰叁拾肆元伍角陆分'],
    ['1', '壹元整'],
    ['1005', '壹仟零伍元整'],
    ['10001', '壹万零壹元整'],
    ['100000', '壹拾万元整'],
    ['10', '壹拾元整'],
    ['15', '壹拾伍元整'],
    ['110', '壹佰壹拾元整'],
    // The examples of 《正确填写票据和结算凭证的基本规定》.
    ['1409.50', '壹仟肆佰零玖元伍角'],
    ['6007.14', '陆仟零柒元壹角肆分'],
    ['1680.32', '壹仟陆佰捌拾元零叁角贰分'],
    ['107000.53', '壹拾万零柒仟元零伍角叁分'],
    ['16409.02', '壹万陆仟肆佰零玖元零贰分'],
    ['325.04', '叁佰贰拾伍元零肆分'],
    // Below one yuan, 万/亿 grouping up to 万亿.
    ['0.05', '伍分'],
    ['0.30', '叁角'],
    ['0.35', '叁角伍分'],
    ['1.05', '壹元零伍分'],
    ['1000500', '壹佰万零伍佰元整'],
    ['100000000', '壹亿元整'],
    ['100010000', '壹亿零壹万元整'],
    ['100001000', '壹亿零壹仟元整'],
    ['1200000000', '壹拾贰亿元整'],
    ['1000000000000', '壹万亿元整'],
    ['1000100000000', '壹万零壹亿元整'],
    ['2000000000001', '贰万亿零壹元整'],
    ['9999999999999999.99', '玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分'],
  ];
  it.each(cases)('writes ¥%s as %s', (yuan, upper) => {
    expect(fenToChineseUpper(parseYuan(yuan))).toBe(upper);
  });

  it('writes zero as 零元整 and prefixes negatives with 负', () => {
    expect(fenToChineseUpper(0n)).toBe('零元整');
    expect(fenToChineseUpper(-100n)).toBe('负壹元整');
    expect(fenToChineseUpper(-123456n)).toBe('负壹仟贰佰叁拾肆元伍角陆分');
  });

  it('refuses amounts from 1 万万亿 yuan up', () => {
    expect(() => fenToChineseUpper(MAX_FEN + 1n)).toThrow(RangeError);
  });

  it('never contains a digit, never doubles 零, and ends with 整 exactly when there are no jiao or fen (property)', () => {
    check(
      seed,
      fc.property(fenArb, (fen) => {
        const s = fenToChineseUpper(fen);
        expect(s).not.toMatch(/[0-9]/);
        expect(s).not.toContain('零零');
        expect(s).toMatch(/^负?[零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整]+$/);
        expect(s.endsWith('整')).toBe(fen % 100n === 0n);
        expect(s.startsWith('负')).toBe(fen < 0n);
        // 零 never opens the amount (except zero itself) and never stands before a unit.
        if (fen !== 0n) {
          expect(s.replace(/^负/, '')).not.toMatch(/^零/);
          expect(s).not.toMatch(/零[拾佰仟万亿元角分]/);
        }
      }),
    );
  });

  it('is injective over amounts: different amounts never give the same text (property)', () => {
    check(
      seed,
      fc.property(fenArb, fenArb, (a, b) => {
        if (a !== b) expect(fenToChineseUpper(a)).not.toBe(fenToChineseUpper(b));
      }),
    );
  });
});

describe('fenToSpokenChinese', () => {
  it('reads amounts aloud the way people say them', () => {
    expect(fenToSpokenChinese(123456n)).toBe('一千二百三十四元五角六分');
    expect(fenToSpokenChinese(1500n)).toBe('十五元');
    expect(fenToSpokenChinese(10000000n)).toBe('十万元');
    expect(fenToSpokenChinese(101000n)).toBe('一千零一十元');
    expect(fenToSpokenChinese(105n)).toBe('一元零五分');
    expect(fenToSpokenChinese(0n)).toBe('零元');
    expect(fenToSpokenChinese(-50n)).toBe('负五角');
  });
});

describe('fen invariants and JSON', () => {
  it('asserts bigint amounts in range and their sign', () => {
    expect(isFen(1n)).toBe(true);
    expect(isFen(1)).toBe(false);
    expect(isFen(MAX_FEN + 1n)).toBe(false);
    expect(() => assertFen(100)).toThrow(TypeError);
    expect(() => assertFen(MAX_FEN + 1n)).toThrow(RangeError);
    expect(() => assertPositiveFen(0n)).toThrow(RangeError);
    expect(() => assertNonNegativeFen(-1n)).toThrow(RangeError);
    expect(() => assertPositiveFen(1n)).not.toThrow();
    expect(() => assertNonNegativeFen(0n)).not.toThrow();
  });

  it('converts to a JSON number only when exact', () => {
    expect(fenToJsonNumber(123456n)).toBe(123456);
    expect(fenToJsonNumber(MAX_JSON_FEN)).toBe(Number.MAX_SAFE_INTEGER);
    expect(fenToJsonNumber(-MAX_JSON_FEN)).toBe(-Number.MAX_SAFE_INTEGER);
    expect(() => fenToJsonNumber(MAX_JSON_FEN + 1n)).toThrow(RangeError);
  });

  it('reads fen from JSON integers and digit strings, refusing floats, unsafe integers and junk', () => {
    expect(fenFromJson(12345)).toBe(12345n);
    expect(fenFromJson('12345')).toBe(12345n);
    expect(fenFromJson(0)).toBe(0n);
    expect(fenFromJson(-5, 'amount', { allowNegative: true })).toBe(-5n);
    expect(reasonOf(() => fenFromJson(-5))).toBe('negative');
    expect(reasonOf(() => fenFromJson(12.5))).toBe('not_integer');
    expect(reasonOf(() => fenFromJson('12.5'))).toBe('not_integer');
    expect(reasonOf(() => fenFromJson(Number.MAX_SAFE_INTEGER + 1))).toBe('too_large');
    expect(reasonOf(() => fenFromJson('9007199254740992'))).toBe('too_large');
    expect(reasonOf(() => fenFromJson(Number.NaN))).toBe('malformed');
    expect(reasonOf(() => fenFromJson('1e5'))).toBe('malformed');
    expect(reasonOf(() => fenFromJson('007'))).toBe('malformed');
    expect(reasonOf(() => fenFromJson(true))).toBe('malformed');
    expect(reasonOf(() => fenFromJson(undefined))).toBe('empty');
    expect(reasonOf(() => fenFromJson(''))).toBe('empty');
  });

  it('round-trips every safe amount through JSON (property)', () => {
    check(
      seed,
      fc.property(fc.bigInt({ min: -MAX_JSON_FEN, max: MAX_JSON_FEN }), (fen) => {
        const wire = JSON.parse(JSON.stringify({ amount: fenToJsonNumber(fen) })) as { amount: unknown };
        expect(fenFromJson(wire.amount, 'amount', { allowNegative: true })).toBe(fen);
      }),
    );
  });
});
