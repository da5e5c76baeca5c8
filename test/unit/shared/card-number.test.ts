// Card numbers: normalisation, 16–19 digits, Luhn with the UnionPay "check with the bank" rule, BIN labels, demo numbers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ISSUERS, binsOfIssuer, lookupBin, networkOfPrefix } from '../../../src/shared/bins.ts';
import {
  generateCardNumber,
  luhnCheckDigit,
  luhnValid,
  maskCard,
  normaliseCardNumber,
  seededRandom,
  validateCardNumber,
} from '../../../src/shared/card-number.ts';
import { check, propertySeed } from './seed.ts';

const seed = propertySeed('card-number');

// DOMAIN.md's made-up numbers (pass Luhn with common Chinese BINs).
const ABC_CARD = '6228480012345678903';
const ICBC_CARD = '6222021234567890128';
const CCB_CARD = '6217009876543210981';

describe('normaliseCardNumber', () => {
  it('drops spaces, dashes and full-width forms people type or paste', () => {
    expect(normaliseCardNumber('6228 4800 1234 5678 903')).toBe(ABC_CARD);
    expect(normaliseCardNumber('6228-4800-1234-5678-903')).toBe(ABC_CARD);
    expect(normaliseCardNumber('６２２８４８００１２３４５６７８９０３')).toBe(ABC_CARD);
    expect(normaliseCardNumber('6228\u30004800\u00a01234 5678 903')).toBe(ABC_CARD);
  });
});

describe('luhn', () => {
  it('accepts the standard test numbers and rejects a changed digit', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('12a4')).toBe(false);
    expect(luhnCheckDigit('7992739871')).toBe(3);
  });

  it('detects every single-digit substitution (property)', () => {
    check(
      seed,
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.nat(18), fc.integer({ min: 1, max: 9 }), (s, pos, delta) => {
        const n = generateCardNumber('622848', seededRandom(s));
        const d = (Number(n[pos]) + delta) % 10;
        const changed = n.slice(0, pos) + String(d) + n.slice(pos + 1);
        expect(luhnValid(changed)).toBe(false);
      }),
    );
  });
});

describe('validateCardNumber', () => {
  it('accepts the DOMAIN.md examples and names their issuers', () => {
    const abc = validateCardNumber(ABC_CARD);
    expect(abc).toMatchObject({ ok: true, number: ABC_CARD, luhn: 'pass', network: 'unionpay' });
    expect(abc.ok && abc.bin).toMatchObject({ bin: '622848', issuer: '中国农业银行', issuerCode: 'ABC', network: 'unionpay', cardType: 'debit' });
    const icbc = validateCardNumber(ICBC_CARD);
    expect(icbc.ok && icbc.bin).toMatchObject({ bin: '622202', issuerCode: 'ICBC', issuer: '中国工商银行' });
    const ccb = validateCardNumber(CCB_CARD);
    expect(ccb.ok && ccb.bin).toMatchObject({ bin: '621700', issuerCode: 'CCB', issuer: '中国建设银行' });
  });

  it('treats a Luhn failure on a 62-card as "check with the bank", not as an error', () => {
    const r = validateCardNumber('6228480012345678904');
    expect(r).toMatchObject({ ok: true, luhn: 'fail-unionpay-check-with-bank', number: '6228480012345678904' });
    expect(r.ok && r.bin?.issuerCode).toBe('ABC');
  });

  it('rejects a Luhn failure on a card outside UnionPay', () => {
    expect(validateCardNumber('4111111111111112')).toMatchObject({ ok: false, reason: 'luhn' });
    // A domestic BOC card outside the 62 range gets no UnionPay exception either.
    const boc = generateCardNumber('601382', seededRandom(3));
    const typo = boc.slice(0, -1) + String((Number(boc.at(-1)) + 1) % 10);
    expect(validateCardNumber(boc)).toMatchObject({ ok: true, luhn: 'pass' });
    expect(validateCardNumber(typo)).toMatchObject({ ok: false, reason: 'luhn' });
  });

  it('accepts 16 to 19 digits and nothing shorter or longer', () => {
    const rnd = seededRandom(7);
    for (const len of [16, 17, 18, 19]) expect(validateCardNumber(generateCardNumber('622588', rnd, len)).ok).toBe(true);
    expect(validateCardNumber('622848001234567')).toMatchObject({ ok: false, reason: 'length' });
    expect(validateCardNumber('62284800123456789030')).toMatchObject({ ok: false, reason: 'length' });
  });

  it('rejects empty, non-digit and absurdly long input without echoing it', () => {
    expect(validateCardNumber('')).toMatchObject({ ok: false, reason: 'empty' });
    expect(validateCardNumber('  - ')).toMatchObject({ ok: false, reason: 'empty' });
    expect(validateCardNumber('6228480012345678x03')).toMatchObject({ ok: false, reason: 'not_digits' });
    expect(validateCardNumber('6'.repeat(65))).toMatchObject({ ok: false, reason: 'too_long' });
    const r = validateCardNumber('4111111111111112');
    expect(!r.ok && r.message).not.toContain('4111111111111112');
  });

  it('labels cards of unknown BINs with their network only', () => {
    const visa = validateCardNumber('4111111111111111');
    expect(visa).toMatchObject({ ok: true, network: 'visa' });
    expect(visa.ok && visa.bin).toBeUndefined();
    expect(validateCardNumber('5555555555554444')).toMatchObject({ ok: true, network: 'mastercard' });
    expect(validateCardNumber('3530111333300000')).toMatchObject({ ok: true, network: 'jcb' });
  });
});

describe('BIN table', () => {
  it('resolves each major bank by a well-known BIN', () => {
    const expected: [string, string][] = [
      ['622202', 'ICBC'], ['622848', 'ABC'], ['621661', 'BOC'], ['621700', 'CCB'], ['622262', 'COMM'],
      ['621799', 'PSBC'], ['622588', 'CMB'], ['622690', 'CITIC'], ['622666', 'CEB'], ['622622', 'CMBC'],
      ['622909', 'CIB'], ['622521', 'SPDB'], ['622986', 'SPABANK'], ['622568', 'GDB'], ['622630', 'HXBANK'],
      ['622478', 'SHRCB'], ['622324', 'JSRCU'], ['621468', 'BJBANK'],
    ];
    for (const [bin, code] of expected) {
      const card = generateCardNumber(bin, seededRandom(1));
      expect(lookupBin(card)?.issuerCode, bin).toBe(code);
      expect(ISSUERS[code]?.name).toBe(lookupBin(card)?.issuer);
    }
  });

  it('prefers the longest matching prefix', () => {
    // 95599 (ABC, 5 digits) and 955100 (PSBC, 6 digits) both start with 955.
    expect(lookupBin('9559912345678901234')?.issuerCode).toBe('ABC');
    expect(lookupBin('9551001234567890123')?.issuerCode).toBe('PSBC');
    expect(lookupBin('9558812345678901234')?.issuerCode).toBe('ICBC');
    expect(lookupBin('1031234567890123456')?.issuerCode).toBe('ABC');
    expect(lookupBin('6299991234567890')).toBeUndefined();
  });

  it('marks domestic prefixes as UnionPay and international ones by their network', () => {
    expect(lookupBin('6013821234567890123')?.network).toBe('unionpay');
    expect(lookupBin('4367421234567890123')).toMatchObject({ issuerCode: 'CCB', network: 'visa' });
    expect(lookupBin('5124251234567890')).toMatchObject({ issuerCode: 'CMB', network: 'mastercard' });
    expect(networkOfPrefix('2221001234567890')).toBe('mastercard');
    expect(networkOfPrefix('371234567890123')).toBe('amex');
    expect(networkOfPrefix('9558')).toBeUndefined();
  });

  it('lists the BINs of an issuer', () => {
    const abc = binsOfIssuer('ABC').map((b) => b.bin);
    expect(abc).toContain('622848');
    expect(binsOfIssuer('ABC').every((b) => b.issuerCode === 'ABC')).toBe(true);
  });
});

describe('masking and demo numbers', () => {
  it('masks to first 6 and last 4', () => {
    expect(maskCard(ABC_CARD)).toBe('622848*********8903');
    expect(maskCard('6228 4800 1234 5678 903')).toBe('622848*********8903');
    expect(maskCard('5555555555554444')).toBe('555555******4444');
  });

  it('generates Luhn-correct numbers under the requested BIN that always validate (property)', () => {
    const bins = ['622848', '622202', '621700', '95599', '103', '436742', '62'];
    check(
      seed,
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(...bins), fc.integer({ min: 16, max: 19 }), (s, bin, len) => {
        const n = generateCardNumber(bin, seededRandom(s), len);
        expect(n).toHaveLength(len);
        expect(n.startsWith(bin)).toBe(true);
        expect(luhnValid(n)).toBe(true);
        expect(validateCardNumber(n)).toMatchObject({ ok: true, luhn: 'pass', number: n });
      }),
    );
  });

  it('generates the same numbers from the same seed', () => {
    const a = [1, 2, 3].map(() => generateCardNumber('622848', seededRandom(2024)));
    const r = seededRandom(2024);
    const b = generateCardNumber('622848', r);
    const c = generateCardNumber('622848', r);
    expect(a[0]).toBe(b);
    expect(a[1]).toBe(b);
    expect(c).not.toBe(b);
    expect(generateCardNumber('622848', seededRandom(2025))).not.toBe(b);
  });

  it('refuses a non-digit BIN or an impossible length', () => {
    expect(() => generateCardNumber('62a', seededRandom(1))).toThrow(TypeError);
    expect(() => generateCardNumber('622848', seededRandom(1), 15)).toThrow(RangeError);
  });
});
