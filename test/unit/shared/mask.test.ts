// Masked display forms, and the free-text scrub that is the logger's last line of defence.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateCardNumber, seededRandom } from '../../../src/shared/card-number.ts';
import { generateIdNumber } from '../../../src/shared/id-document.ts';
import { maskCardNumber, maskIdNumber, maskName, maskPhone, scrubText } from '../../../src/shared/mask.ts';
import { check, propertySeed } from './seed.ts';

const seed = propertySeed('mask');

describe('display masks', () => {
  it('shows cards as first 6 and last 4', () => {
    expect(maskCardNumber('6228480012345678903')).toBe('622848*********8903');
    expect(maskCardNumber('6228 4800 1234 5678 903')).toBe('622848*********8903');
    expect(maskCardNumber('6228-4800-1234-5678')).toBe('622848******5678');
    expect(maskCardNumber('1234567890')).toBe('**********');
  });

  it('shows mainland mobiles as 138****0000, with or without +86', () => {
    expect(maskPhone('13800000000')).toBe('138****0000');
    expect(maskPhone('139 1234 5678')).toBe('139****5678');
    expect(maskPhone('+8613912345678')).toBe('139****5678');
    expect(maskPhone('008613912345678')).toBe('139****5678');
    expect(maskPhone('85291234567')).toBe('852******67');
    expect(maskPhone('12345')).toBe('*****');
  });

  it('shows ID numbers as first 1–3 and last 1–4 characters by length', () => {
    expect(maskIdNumber('11010519491231002X')).toBe('110***********002X');
    expect(maskIdNumber('USA310185062801')).toBe('USA********2801');
    expect(maskIdNumber('H12345678')).toBe('H******78');
    expect(maskIdNumber('12345678')).toBe('1*****78');
    expect(maskIdNumber('A1234')).toBe('A***4');
    expect(maskIdNumber('A123')).toBe('****');
  });

  it('keeps the surname of a name and masks the rest', () => {
    expect(maskName('张三')).toBe('张*');
    expect(maskName('王小明')).toBe('王**');
    expect(maskName('欧阳娜娜')).toBe('欧阳**');
    expect(maskName('司马光')).toBe('司马*');
    expect(maskName('欧阳')).toBe('欧*');
    expect(maskName('买买提·艾力')).toBe('买**·**');
    expect(maskName('John Smith')).toBe('J*** *****');
    expect(maskName('  Anne-Marie  O’Neil ')).toBe('A***-***** *’****');
    expect(maskName('李')).toBe('*');
    expect(maskName('')).toBe('');
  });
});

describe('scrubText', () => {
  it('masks cards, IDs and phones in free text, plain or grouped as people type them', () => {
    const text = [
      'card 6228480012345678903 and 6228 4800 1234 5678 903 and 6228-4800-1234-5678',
      'boc 6013820012345678901 icbc-old 9558812345678901234',
      'id 11010519491231002X spaced 110105 19491231 002X lower 11010519491231002x',
      'phone 13912345678 +8613912345678 +86 139 1234 5678 0086-13912345678 139-1234-5678',
      'glued cardNo6228480012345678903 tel:13912345678',
    ].join('\n');
    const out = scrubText(text);
    for (const secret of ['6228480012345678903', '4800 1234 5678', '4800-1234', '0012345678901', '12345678901234',
      '19491231', '1234 5678', '12345678', '1234-5678']) {
      expect(out, secret).not.toContain(secret);
    }
    expect(out).toContain('622848*********8903');
    expect(out).toContain('110***********002X');
    expect(out).toContain('139****5678');
  });

  it('leaves ordinary numbers, times and ids alone', () => {
    const text = '{"time":"2026-01-05T02:00:00.000Z","pid":12345,"amount":500000,"ms":1767578400000,"id":"tr_0f3k9a","tx":"4200001234202601051234567890"}';
    expect(scrubText(text)).toBe(text);
  });

  it('masks every generated card, resident ID and mobile embedded in text (property)', () => {
    check(
      seed,
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.constantFrom('622848', '622202', '621700', '601382', '95599', '436742', '512425'),
        fc.integer({ min: 16, max: 19 }),
        fc.constantFrom(' ', ':', '=', '"', 'x', '，', '\n'),
        (s, bin, len, sep) => {
          const r = seededRandom(s);
          const card = generateCardNumber(bin, r, len);
          const id = generateIdNumber('resident_id', r, { today: '2026-01-05' });
          const phone = `1${3 + Math.floor(r() * 7)}${String(Math.floor(r() * 1e9)).padStart(9, '0')}`;
          const out = scrubText(`a${sep}${card}${sep}${id}${sep}${phone}${sep}z`);
          expect(out).not.toContain(card);
          expect(out).not.toContain(id);
          expect(out).not.toContain(phone);
        },
      ),
    );
  });
});
