// Identity documents: GB 11643 check, birth date and region rules, permit formats, type detection, demo numbers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/shared/card-number.ts';
import {
  ID_TYPES,
  detectAndValidateIdDocument,
  detectIdType,
  gb11643CheckCharacter,
  generateIdNumber,
  normaliseIdNumber,
  validateIdDocument,
  type IdType,
} from '../../../src/shared/id-document.ts';
import { check, propertySeed } from './seed.ts';

const seed = propertySeed('id-document');
const TODAY = '2026-01-05';

/** A GB 11643 number with the right check character for the given first 17 digits. */
function withCheck(first17: string): string {
  return first17 + gb11643CheckCharacter(first17);
}

describe('resident ID (GB 11643-1999)', () => {
  it('accepts the DOMAIN.md examples and reads birth date and sex from them', () => {
    expect(validateIdDocument('resident_id', '11010519491231002X', TODAY)).toEqual({
      ok: true, type: 'resident_id', number: '11010519491231002X', format: 'current',
      provinceCode: '11', birthDate: '1949-12-31', sex: 'female',
    });
    expect(validateIdDocument('resident_id', '440524188001010014', TODAY)).toMatchObject({ ok: true, birthDate: '1880-01-01', sex: 'male' });
    expect(validateIdDocument('resident_id', '110101199003077758', TODAY)).toMatchObject({ ok: true, birthDate: '1990-03-07', sex: 'male' });
  });

  it('rejects the DOMAIN.md invalid example for its check character (X expected)', () => {
    expect(gb11643CheckCharacter('31010120000101123')).toBe('X');
    expect(validateIdDocument('resident_id', '310101200001011234', TODAY)).toMatchObject({ ok: false, reason: 'check_character' });
    expect(validateIdDocument('resident_id', '31010120000101123X', TODAY)).toMatchObject({ ok: true });
  });

  it('accepts a lower-case x and spaces, and returns the normalised number', () => {
    expect(validateIdDocument('resident_id', ' 110105 19491231 002x ', TODAY)).toMatchObject({ ok: true, number: '11010519491231002X' });
    expect(validateIdDocument('resident_id', '１１０１０５１９４９１２３１００２Ｘ', TODAY)).toMatchObject({ ok: true, number: '11010519491231002X' });
  });

  it('rejects a birth date that is not a real day', () => {
    expect(validateIdDocument('resident_id', withCheck('11010519490231002'), TODAY)).toMatchObject({ ok: false, reason: 'birth_date' });
    expect(validateIdDocument('resident_id', withCheck('11010519491301002'), TODAY)).toMatchObject({ ok: false, reason: 'birth_date' });
    expect(validateIdDocument('resident_id', withCheck('11010519490000002'), TODAY)).toMatchObject({ ok: false, reason: 'birth_date' });
    expect(validateIdDocument('resident_id', withCheck('11010517991231002'), TODAY)).toMatchObject({ ok: false, reason: 'birth_date' });
    // 29 February only in leap years.
    expect(validateIdDocument('resident_id', withCheck('11010520000229002'), TODAY)).toMatchObject({ ok: true });
    expect(validateIdDocument('resident_id', withCheck('11010519000229002'), TODAY)).toMatchObject({ ok: false, reason: 'birth_date' });
  });

  it('rejects a birth date after today, with today read in Asia/Shanghai', () => {
    const id = withCheck('11010520260106002');
    expect(validateIdDocument('resident_id', id, '2026-01-05')).toMatchObject({ ok: false, reason: 'birth_date_in_future' });
    expect(validateIdDocument('resident_id', id, '2026-01-06')).toMatchObject({ ok: true });
    // 16:30 UTC on the 5th is already 00:30 on the 6th in Shanghai.
    expect(validateIdDocument('resident_id', id, new Date('2026-01-05T16:30:00Z'))).toMatchObject({ ok: true });
    expect(validateIdDocument('resident_id', id, new Date('2026-01-05T15:59:59Z'))).toMatchObject({ ok: false, reason: 'birth_date_in_future' });
  });

  it('rejects a region code that is not a mainland province', () => {
    for (const prefix of ['000000', '990101', '710101', '810000', '160101']) {
      expect(validateIdDocument('resident_id', withCheck(`${prefix}19900101002`), TODAY), prefix).toMatchObject({ ok: false, reason: 'region' });
    }
  });

  it('rejects first-generation 15-digit numbers with their own reason, and other shapes as format', () => {
    expect(validateIdDocument('resident_id', '110105491231002', TODAY)).toMatchObject({ ok: false, reason: 'legacy_15_digit' });
    expect(validateIdDocument('resident_id', '1101051949123100', TODAY)).toMatchObject({ ok: false, reason: 'format' });
    expect(validateIdDocument('resident_id', '11010519491231002Y', TODAY)).toMatchObject({ ok: false, reason: 'format' });
    expect(validateIdDocument('resident_id', '', TODAY)).toMatchObject({ ok: false, reason: 'empty' });
    expect(validateIdDocument('resident_id', '1'.repeat(41), TODAY)).toMatchObject({ ok: false, reason: 'too_long' });
  });

  it('never repeats the number in a rejection message', () => {
    const r = validateIdDocument('resident_id', '310101200001011234', TODAY);
    expect(!r.ok && r.message).not.toContain('310101200001011234');
  });
});

describe('other documents', () => {
  it('validates HK / Macao / Taiwan residence permits with the same check algorithm', () => {
    const hk = withCheck('81000019900101002');
    expect(validateIdDocument('hmt_residence_permit', hk, TODAY)).toMatchObject({ ok: true, region: 'HK', birthDate: '1990-01-01', sex: 'female' });
    expect(validateIdDocument('hmt_residence_permit', withCheck('82000019851231001'), TODAY)).toMatchObject({ ok: true, region: 'MO', sex: 'male' });
    expect(validateIdDocument('hmt_residence_permit', withCheck('83000020000229003'), TODAY)).toMatchObject({ ok: true, region: 'TW' });
    const wrongCheck = hk.slice(0, 17) + (hk[17] === '0' ? '1' : '0');
    expect(validateIdDocument('hmt_residence_permit', wrongCheck, TODAY)).toMatchObject({ ok: false, reason: 'check_character' });
    expect(validateIdDocument('hmt_residence_permit', withCheck('84000019900101002'), TODAY)).toMatchObject({ ok: false, reason: 'region' });
    expect(validateIdDocument('hmt_residence_permit', '11010519491231002X', TODAY)).toMatchObject({ ok: false, reason: 'region' });
  });

  it('validates the Mainland Travel Permit for HK and Macao residents (H/M + 8 digits, older 10)', () => {
    expect(validateIdDocument('hk_macao_travel_permit', 'H12345678', TODAY)).toMatchObject({ ok: true, region: 'HK', format: 'current' });
    expect(validateIdDocument('hk_macao_travel_permit', 'm 1234 5678', TODAY)).toMatchObject({ ok: true, region: 'MO', number: 'M12345678' });
    expect(validateIdDocument('hk_macao_travel_permit', 'H1234567890', TODAY)).toMatchObject({ ok: true, format: 'legacy' });
    for (const bad of ['H1234567', 'H123456789', 'A12345678', '12345678']) {
      expect(validateIdDocument('hk_macao_travel_permit', bad, TODAY), bad).toMatchObject({ ok: false, reason: 'format' });
    }
  });

  it('validates the Taiwan residents permit (8 digits, older digits with a letter suffix)', () => {
    expect(validateIdDocument('taiwan_travel_permit', '12345678', TODAY)).toMatchObject({ ok: true, region: 'TW', format: 'current' });
    expect(validateIdDocument('taiwan_travel_permit', '12345678(B)', TODAY)).toMatchObject({ ok: true, format: 'legacy', number: '12345678B' });
    expect(validateIdDocument('taiwan_travel_permit', '123456789a', TODAY)).toMatchObject({ ok: true, format: 'legacy', number: '123456789A' });
    for (const bad of ['1234567', '123456789', 'B12345678']) {
      expect(validateIdDocument('taiwan_travel_permit', bad, TODAY), bad).toMatchObject({ ok: false, reason: 'format' });
    }
  });

  it('validates foreign permanent resident IDs, old (3 letters + 12 digits) and new (9…, GB 11643 check)', () => {
    expect(validateIdDocument('foreign_permanent_resident', 'USA310185062801', TODAY)).toMatchObject({ ok: true, format: 'legacy' });
    const fresh = withCheck('93184019850628001');
    expect(validateIdDocument('foreign_permanent_resident', fresh, TODAY)).toMatchObject({
      ok: true, format: 'current', provinceCode: '31', birthDate: '1985-06-28',
    });
    const wrongCheck = fresh.slice(0, 17) + (fresh[17] === '0' ? '1' : '0');
    expect(validateIdDocument('foreign_permanent_resident', wrongCheck, TODAY)).toMatchObject({ ok: false, reason: 'check_character' });
    expect(validateIdDocument('foreign_permanent_resident', withCheck('99984019850628001'), TODAY)).toMatchObject({ ok: false, reason: 'region' });
    expect(validateIdDocument('foreign_permanent_resident', withCheck('93184019851328001'), TODAY)).toMatchObject({ ok: false, reason: 'birth_date' });
    expect(validateIdDocument('foreign_permanent_resident', '11010519491231002X', TODAY)).toMatchObject({ ok: false, reason: 'format' });
    expect(validateIdDocument('foreign_permanent_resident', 'US1310185062801', TODAY)).toMatchObject({ ok: false, reason: 'format' });
  });

  it('accepts passports of 5–17 letters and digits only', () => {
    expect(validateIdDocument('passport', 'E12345678', TODAY)).toMatchObject({ ok: true, number: 'E12345678' });
    expect(validateIdDocument('passport', 'ea1234567', TODAY)).toMatchObject({ ok: true, number: 'EA1234567' });
    expect(validateIdDocument('passport', 'A1234', TODAY)).toMatchObject({ ok: true });
    expect(validateIdDocument('passport', 'A123', TODAY)).toMatchObject({ ok: false, reason: 'format' });
    expect(validateIdDocument('passport', 'A'.repeat(18), TODAY)).toMatchObject({ ok: false, reason: 'format' });
    expect(validateIdDocument('passport', 'E1234567#', TODAY)).toMatchObject({ ok: false, reason: 'format' });
  });
});

describe('detectIdType', () => {
  it('detects each document type from the number alone', () => {
    const cases: [string, IdType | undefined][] = [
      ['11010519491231002X', 'resident_id'],
      ['11010519491231002x', 'resident_id'],
      ['110105491231002', 'resident_id'],
      [withCheck('81000019900101002'), 'hmt_residence_permit'],
      [withCheck('82000019900101002'), 'hmt_residence_permit'],
      [withCheck('83000019900101002'), 'hmt_residence_permit'],
      [withCheck('93184019850628001'), 'foreign_permanent_resident'],
      ['USA310185062801', 'foreign_permanent_resident'],
      ['H12345678', 'hk_macao_travel_permit'],
      ['M1234567890', 'hk_macao_travel_permit'],
      ['12345678', 'taiwan_travel_permit'],
      ['12345678(B)', 'taiwan_travel_permit'],
      ['E12345678', 'passport'],
      ['G1234567', 'passport'],
      ['AB12', undefined],
      ['', undefined],
      ['张三', undefined],
    ];
    for (const [raw, type] of cases) expect(detectIdType(raw), raw).toBe(type);
  });

  it('detects then validates in one step', () => {
    expect(detectAndValidateIdDocument('H12345678', TODAY)).toMatchObject({ ok: true, type: 'hk_macao_travel_permit' });
    expect(detectAndValidateIdDocument('310101200001011234', TODAY)).toMatchObject({ ok: false, reason: 'check_character' });
    expect(detectAndValidateIdDocument(' ', TODAY)).toMatchObject({ ok: false, reason: 'empty' });
    expect(detectAndValidateIdDocument('!!', TODAY)).toMatchObject({ ok: false, reason: 'format' });
  });

  it('normalises full-width letters, brackets and dashes', () => {
    expect(normaliseIdNumber('Ｈ１２３４５６７８')).toBe('H12345678');
    expect(normaliseIdNumber('12345678（b）')).toBe('12345678B');
    expect(normaliseIdNumber('110105-19491231-002x')).toBe('11010519491231002X');
  });
});

describe('demo numbers', () => {
  it('generates numbers that are detected as their type and validate, for every type (property)', () => {
    check(
      seed,
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(...ID_TYPES), (s, type) => {
        const n = generateIdNumber(type, seededRandom(s), { today: TODAY });
        expect(detectIdType(n)).toBe(type);
        expect(validateIdDocument(type, n, TODAY)).toMatchObject({ ok: true, number: n });
      }),
    );
  });

  it('honours the requested birth date, sex, region code and permit region', () => {
    const id = generateIdNumber('resident_id', seededRandom(1), { today: TODAY, birthDate: '1990-03-07', sex: 'female', regionCode: '440305' });
    expect(validateIdDocument('resident_id', id, TODAY)).toMatchObject({ ok: true, birthDate: '1990-03-07', sex: 'female', provinceCode: '44' });
    expect(id.startsWith('440305')).toBe(true);
    const tw = generateIdNumber('hmt_residence_permit', seededRandom(1), { today: TODAY, region: 'TW', sex: 'male' });
    expect(validateIdDocument('hmt_residence_permit', tw, TODAY)).toMatchObject({ ok: true, region: 'TW', sex: 'male' });
    expect(generateIdNumber('hk_macao_travel_permit', seededRandom(1), { today: TODAY, region: 'MO' })).toMatch(/^M\d{8}$/);
    expect(() => generateIdNumber('resident_id', seededRandom(1), { today: TODAY, regionCode: '810000' })).toThrow(RangeError);
  });

  it('gives adults born from 1940 on, the same numbers for the same seed', () => {
    const a = generateIdNumber('resident_id', seededRandom(99), { today: TODAY });
    expect(generateIdNumber('resident_id', seededRandom(99), { today: TODAY })).toBe(a);
    expect(generateIdNumber('resident_id', seededRandom(100), { today: TODAY })).not.toBe(a);
    const r = seededRandom(5);
    for (let i = 0; i < 200; i++) {
      const v = validateIdDocument('resident_id', generateIdNumber('resident_id', r, { today: TODAY }), TODAY);
      if (!v.ok) throw new Error(v.reason);
      expect(v.birthDate! >= '1940-01-01' && v.birthDate! <= '2008-01-05').toBe(true);
    }
  });
});
