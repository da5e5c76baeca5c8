// Fuzzes money parsing: yuan text and JSON amounts from outside give fen in range or a MoneyError, never another throw; display forms round-trip.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { fenFromJson, fenToChineseUpper, fenToJsonNumber, fenToSpokenChinese, formatFen, formatFenPlain, MAX_FEN, MAX_JSON_FEN, MoneyError, parseYuan, type Fen } from '../../../src/shared/money.ts';
import { fuzzParams, fuzzRuns, fuzzSeed, fuzzTimeoutMs, hostileString } from './fuzz.ts';

const seed = fuzzSeed('money');
const SMOKE_RUNS = 300;
const params = fuzzParams(seed, SMOKE_RUNS);
const TIMEOUT_MS = fuzzTimeoutMs(fuzzRuns(SMOKE_RUNS), 2);

/** A refusal must be the typed MoneyError (400 validation_failed naming the field), never anything else. */
function parseOrMoneyError(parse: () => Fen, field: string): Fen | MoneyError {
  try {
    return parse();
  } catch (err) {
    if (err instanceof MoneyError && err instanceof AppError && err.status === 400) {
      expect(err.extra.errors).toEqual([{ field, message: expect.any(String) }]);
      return err;
    }
    throw err;
  }
}

/** Yuan-looking text: digits, points, signs, exponents, separators and currency marks in any order. */
const yuanish = fc.oneof(
  hostileString(),
  fc.array(fc.constantFrom(...'0123456789', '.', '-', '+', 'e', 'E', ',', ' ', '¥', '０', '\u00a0', '_', 'Infinity', 'NaN', '0x'), { maxLength: 30 }).map((c) => c.join('')),
);
const anyFen = fc.bigInt({ min: -MAX_FEN, max: MAX_FEN });

describe('parseYuan', () => {
  it('answers any text with fen in range or a MoneyError, and never echoes the input', () => {
    fc.assert(
      fc.property(yuanish, fc.boolean(), (text, allowNegative) => {
        const r = parseOrMoneyError(() => parseYuan(text, { allowNegative, field: 'body.amount' }), 'body.amount');
        if (typeof r === 'bigint') {
          expect(r <= MAX_FEN && r >= -MAX_FEN).toBe(true);
          if (!allowNegative) expect(r >= 0n).toBe(true);
          // Never rounds: the text says exactly this many fen.
          expect(parseYuan(formatFenPlain(r), { allowNegative: true })).toBe(r);
        } else {
          // Never echoes the input: the message is the fixed text of its reason, whatever the input
          // (a substring test alone would flag "34." inside the message's example "1234.56").
          expect(r.message).toBe(new MoneyError(r.reason, 'body.amount').message);
        }
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('round-trips every amount through its plain and display forms', () => {
    fc.assert(
      fc.property(anyFen, (fen) => {
        expect(parseYuan(formatFenPlain(fen), { allowNegative: true })).toBe(fen);
        expect(parseYuan(formatFen(fen).replace('¥', '').replaceAll(',', ''), { allowNegative: true })).toBe(fen);
        expect(() => fenToChineseUpper(fen)).not.toThrow();
        expect(fenToSpokenChinese(fen)).not.toMatch(/\d/);
      }),
      params,
    );
  }, TIMEOUT_MS);
});

describe('fenFromJson', () => {
  it('answers any JSON value with a safe amount or a MoneyError', () => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.double(),
      fc.bigInt().map(String),
      fc.integer().map((n) => `${n}.5`),
      yuanish,
      fc.constantFrom(undefined, null, '', '-0', '0', Number.MAX_SAFE_INTEGER + 1, -0, '9007199254740992', '00'),
    );
    fc.assert(
      fc.property(value, fc.boolean(), (v, allowNegative) => {
        const r = parseOrMoneyError(() => fenFromJson(v, 'amount', { allowNegative }), 'amount');
        if (typeof r === 'bigint') {
          expect(r <= MAX_JSON_FEN && r >= -MAX_JSON_FEN).toBe(true);
          if (!allowNegative) expect(r >= 0n).toBe(true);
          expect(fenFromJson(fenToJsonNumber(r), 'amount', { allowNegative: true })).toBe(r);
        }
      }),
      params,
    );
  }, TIMEOUT_MS);
});
