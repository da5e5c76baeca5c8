// Fuzzes the card, ID-document, phone and name parsers: typed answers on any input, round trips of generated values, check digits, masks that reveal no more than they should.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { CARD_MAX_DIGITS, CARD_MIN_DIGITS, generateCardNumber, luhnCheckDigit, luhnValid, maskCard, seededRandom, validateCardNumber, type CardRejectReason } from '../../../src/shared/card-number.ts';
import { detectAndValidateIdDocument, detectIdType, gb11643CheckCharacter, generateIdNumber, ID_TYPES, validateIdDocument, type IdRejectReason } from '../../../src/shared/id-document.ts';
import { maskCardNumber, maskIdNumber, maskName, maskPhone, scrubText } from '../../../src/shared/mask.ts';
import { CardNumber, IdNumber, normaliseChinaMobile, PersonName, Phone } from '../../../src/shared/sensitive.ts';
import { fuzzParams, fuzzRuns, fuzzSeed, fuzzTimeoutMs, hostileString } from './fuzz.ts';

const seed = fuzzSeed('identity-parsers');
/** Pure functions: a few hundred cases take milliseconds; FUZZ_RUNS=10000 a few seconds each. */
const SMOKE_RUNS = 300;
const params = fuzzParams(seed, SMOKE_RUNS);
const TIMEOUT_MS = fuzzTimeoutMs(fuzzRuns(SMOKE_RUNS), 2);

const CARD_REASONS: readonly CardRejectReason[] = ['empty', 'too_long', 'not_digits', 'length', 'luhn'];
const ID_REASONS: readonly IdRejectReason[] = ['empty', 'too_long', 'format', 'region', 'birth_date', 'birth_date_in_future', 'check_character', 'legacy_15_digit'];

/** UTF-16 units a mask shows (everything but its `*`): the masks count and cut in units, as String#slice does. */
const visible = (masked: string) => masked.replaceAll('*', '').length;

/** The parse either gives a value or a validation_failed AppError; any other throw is a bug. */
function parseOrRefusal<T>(parse: () => T): T | AppError {
  try {
    return parse();
  } catch (err) {
    if (err instanceof AppError && err.code === 'validation_failed' && err.status === 400) return err;
    throw err;
  }
}

const digitString = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));

/** A Luhn-correct card: a BIN of 1–10 digits (62… half the time), then generated as the demo data is. */
const validCard = fc
  .record({ bin: fc.oneof(digitString(1, 8).map((d) => `62${d}`), digitString(1, 10)), length: fc.integer({ min: CARD_MIN_DIGITS, max: CARD_MAX_DIGITS }), rng: fc.integer() })
  .map(({ bin, length, rng }) => generateCardNumber(bin, seededRandom(rng), length));

/** How people type a number: groups split by spaces or dashes, full-width digits. */
function typed(digits: string, style: { sep: string; every: number; fullWidth: boolean }): string {
  const chars = [...digits].map((c) => (style.fullWidth && /\d/.test(c) ? String.fromCharCode(c.charCodeAt(0) - 48 + 0xff10) : c));
  return chars.map((c, i) => (i > 0 && i % style.every === 0 ? style.sep + c : c)).join('');
}
const typingStyle = fc.record({ sep: fc.constantFrom('', ' ', '-', '\u3000', '\u00a0'), every: fc.integer({ min: 3, max: 6 }), fullWidth: fc.boolean() });

const isoDay = fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2090-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

describe('card numbers', () => {
  it('answers any string with a typed result, never a throw, and never echoes it in a message', () => {
    fc.assert(
      fc.property(hostileString(), (raw) => {
        const r = validateCardNumber(raw);
        if (r.ok) {
          expect(r.number).toMatch(/^\d{16,19}$/);
          expect(luhnValid(r.number) || r.number.startsWith('62')).toBe(true);
        } else {
          expect(CARD_REASONS).toContain(r.reason);
          if (/\d{4}/.test(raw)) expect(r.message).not.toContain(raw);
        }
        const parsed = parseOrRefusal(() => CardNumber.parse(raw));
        expect(parsed instanceof CardNumber).toBe(r.ok);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('accepts every generated card however it is typed, as the same number with Luhn passing', () => {
    fc.assert(
      fc.property(validCard, typingStyle, (card, style) => {
        const r = validateCardNumber(typed(card, style));
        expect(r).toMatchObject({ ok: true, number: card, luhn: 'pass' });
        expect(CardNumber.parse(typed(card, style)).reveal()).toBe(card);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('has exactly one Luhn check digit, and a changed digit always breaks it', () => {
    fc.assert(
      fc.property(validCard, fc.nat(), fc.integer({ min: 1, max: 9 }), (card, at, delta) => {
        const body = card.slice(0, -1);
        const check = luhnCheckDigit(body);
        expect(String(check)).toBe(card.at(-1));
        for (let d = 0; d <= 9; d++) expect(luhnValid(`${body}${d}`)).toBe(d === check);
        const i = at % card.length;
        const changed = `${card.slice(0, i)}${(Number(card[i]) + delta) % 10}${card.slice(i + 1)}`;
        expect(luhnValid(changed)).toBe(false);
        // A mistyped digit is refused outright, except on a 62-card, where the bank decides.
        const r = validateCardNumber(changed);
        if (changed.startsWith('62')) expect(r).toMatchObject({ ok: true, luhn: 'fail-unionpay-check-with-bank' });
        else expect(r).toMatchObject({ ok: false, reason: 'luhn' });
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('masks a card as first 6 and last 4, and no input makes a mask show more than 10 characters', () => {
    fc.assert(
      fc.property(validCard, hostileString(), (card, raw) => {
        const masked = maskCard(card);
        expect(masked).toBe(`${card.slice(0, 6)}${'*'.repeat(card.length - 10)}${card.slice(-4)}`);
        const c = CardNumber.parse(card);
        for (const shown of [String(c), `${c}`, JSON.stringify({ c }), c.masked]) expect(shown).not.toContain(card.slice(6, -4));
        expect(visible(maskCardNumber(raw))).toBeLessThanOrEqual(10);
        expect(visible(maskCard(raw))).toBeLessThanOrEqual(10);
      }),
      params,
    );
  }, TIMEOUT_MS);
});

describe('identity documents', () => {
  it('answers any string, as any type, with a typed result, never a throw', () => {
    fc.assert(
      fc.property(hostileString(), fc.constantFrom(...ID_TYPES), isoDay, (raw, type, today) => {
        for (const r of [validateIdDocument(type, raw, today), detectAndValidateIdDocument(raw, today)]) {
          if (r.ok) {
            expect(ID_TYPES).toContain(r.type);
            expect(r.number).toMatch(/^[A-Z0-9]{5,18}$/);
            if (r.birthDate) expect(r.birthDate <= today).toBe(true);
          } else {
            expect(ID_REASONS).toContain(r.reason);
            if (/[0-9A-Z]{5}/.test(raw)) expect(r.message).not.toContain(raw);
          }
        }
        const detected = detectIdType(raw);
        if (detected !== undefined) expect(ID_TYPES).toContain(detected);
        const parsed = parseOrRefusal(() => IdNumber.parse(raw, { today }));
        if (parsed instanceof IdNumber) expect(detectAndValidateIdDocument(raw, today).ok).toBe(true);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('detects and accepts every generated number of every type, however it is typed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ID_TYPES),
        fc.integer(),
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2080-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom('male' as const, 'female' as const),
        typingStyle,
        fc.boolean(),
        (type, rng, now, sex, style, lower) => {
          const number = generateIdNumber(type, seededRandom(rng), { today: now, sex });
          const input = typed(lower ? number.toLowerCase() : number, { ...style, fullWidth: false });
          expect(detectIdType(input)).toBe(type);
          const r = validateIdDocument(type, input, now);
          expect(r).toMatchObject({ ok: true, type, number });
          if (type === 'resident_id' || type === 'hmt_residence_permit') expect(r).toMatchObject({ sex });
          expect(IdNumber.parse(input, { today: now }).reveal()).toBe(number);
        },
      ),
      params,
    );
  }, TIMEOUT_MS);

  it('refuses every single-character change and every adjacent swap of a GB 11643 number', () => {
    fc.assert(
      fc.property(fc.constantFrom('resident_id' as const, 'hmt_residence_permit' as const, 'foreign_permanent_resident' as const), fc.integer(), fc.nat(17), fc.integer({ min: 1, max: 10 }), (type, rng, at, delta) => {
        const today = '2026-03-18';
        const number = generateIdNumber(type, seededRandom(rng), { today });
        expect(gb11643CheckCharacter(number.slice(0, 17))).toBe(number[17]);
        const CHARS = '0123456789X';
        const pool = at === 17 ? CHARS : CHARS.slice(0, 10);
        const next = pool[(pool.indexOf(number[at]!) + delta) % pool.length]!;
        if (next !== number[at]) expect(validateIdDocument(type, `${number.slice(0, at)}${next}${number.slice(at + 1)}`, today).ok).toBe(false);
        // Adjacent weights differ mod 11, so a transposition within the first 17 digits always shows.
        const i = at % 16;
        if (number[i] !== number[i + 1]) {
          const swapped = `${number.slice(0, i)}${number[i + 1]}${number[i]}${number.slice(i + 2)}`;
          expect(validateIdDocument(type, swapped, today).ok).toBe(false);
        }
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('masks an ID number to at most 3 + 4 characters, and a short one to at most 3', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(...ID_TYPES), hostileString(), (rng, type, raw) => {
        const number = generateIdNumber(type, seededRandom(rng), { today: '2026-03-18' });
        const id = IdNumber.parse(number, { today: '2026-03-18', type });
        for (const shown of [String(id), JSON.stringify({ id }), id.masked]) expect(shown).not.toBe(number);
        if (number.length >= 15) expect(id.masked).not.toContain(number.slice(3, -4));
        const m = maskIdNumber(raw);
        const length = raw.replace(/\s+/g, '').length;
        expect(visible(m)).toBeLessThanOrEqual(length >= 15 ? 7 : 3);
      }),
      params,
    );
  }, TIMEOUT_MS);
});

const mobile = fc.tuple(fc.integer({ min: 3, max: 9 }), digitString(9, 9)).map(([second, rest]) => `1${second}${rest}`);

describe('phones and names', () => {
  const prefix = fc.constantFrom('', '+86', '0086', '86', '+86 ', '86-');

  it('normalises any string to a mainland mobile or nothing, and Phone.parse agrees', () => {
    fc.assert(
      fc.property(hostileString(), (raw) => {
        const p = normaliseChinaMobile(raw);
        if (p !== undefined) expect(p).toMatch(/^1[3-9]\d{9}$/);
        const parsed = parseOrRefusal(() => Phone.parse(raw));
        expect(parsed instanceof Phone ? parsed.reveal() : undefined).toBe(p);
        expect(visible(maskPhone(raw))).toBeLessThanOrEqual(7);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('round-trips every generated mobile through its typed forms, masked as 3 + **** + 4', () => {
    fc.assert(
      fc.property(mobile, prefix, typingStyle, (digits, pre, style) => {
        const p = Phone.parse(`${pre}${typed(digits, { ...style, fullWidth: false })}`);
        expect(p.reveal()).toBe(digits);
        expect(p.revealE164()).toBe(`+86${digits}`);
        expect(p.masked).toBe(`${digits.slice(0, 3)}****${digits.slice(7)}`);
        expect(JSON.stringify({ p })).not.toContain(digits);
      }),
      params,
    );
  }, TIMEOUT_MS);

  it('parses any string as a name or refuses it, and the mask keeps only the surname and separators', () => {
    fc.assert(
      fc.property(hostileString(40), (raw) => {
        const parsed = parseOrRefusal(() => PersonName.parse(raw));
        if (parsed instanceof PersonName) {
          const name = parsed.reveal();
          const shown = [...parsed.masked];
          expect(shown.length).toBe([...name].length);
          const letters = shown.filter((c) => c !== '*' && !/^[\s·•・.\-'’]$/u.test(c));
          expect(letters.length).toBeLessThanOrEqual(shown.length === 1 ? 0 : 2);
        }
        expect(() => maskName(raw)).not.toThrow();
      }),
      params,
    );
  }, TIMEOUT_MS);
});

describe('free-text scrubbing', () => {
  it('never lets a generated card, resident ID or mobile through, whatever text surrounds it', () => {
    const filler = fc.string({ maxLength: 30 }).map((s) => s.replace(/[0-9A-Za-z\uff10-\uff19]/g, ' '));
    const secret = fc.oneof(
      validCard.filter((c) => c[0] !== '0'),
      fc.integer().map((rng) => generateIdNumber('resident_id', seededRandom(rng), { today: '2026-03-18' })),
      mobile,
    );
    fc.assert(
      fc.property(filler, secret, filler, (before, s, after) => {
        expect(scrubText(`${before} ${s} ${after}`)).not.toContain(s);
      }),
      params,
    );
  }, TIMEOUT_MS);
});
