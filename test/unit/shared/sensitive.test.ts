// Sensitive wrappers: parsing rules, and no printable form (string, JSON, inspect, pino) ever shows the clear value.
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/app/errors.ts';
import { createLogger } from '../../../src/app/logger.ts';
import { CardNumber, IdNumber, PersonName, Phone, normaliseChinaMobile } from '../../../src/shared/sensitive.ts';
import { captureLogs } from '../../helpers/logs.ts';
import { registerSensitive } from '../../helpers/secrets.ts';

const CARD = '6228480012345678903';
const ID = '11010519491231002X';
const PHONE = '13912345678';
const NAME = '欧阳娜娜';
const LATIN_NAME = 'Jonathan Appleseed';
registerSensitive(CARD, ID, PHONE, NAME, LATIN_NAME);

const TODAY = '2026-01-05';

function all() {
  return {
    card: CardNumber.parse(CARD),
    id: IdNumber.parse(ID, { today: TODAY }),
    phone: Phone.parse(`+86 ${PHONE}`),
    name: PersonName.parse(NAME),
    latin: PersonName.parse(LATIN_NAME),
  };
}
const CLEAR = [CARD, ID, PHONE, NAME, LATIN_NAME, '19491231', '1949-12-31', '12345678', 'Appleseed'];

function expectNoClear(text: string): void {
  for (const v of CLEAR) expect(text, `leaked ${v.slice(-2)}`).not.toContain(v);
}

function validationField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    const err = e as AppError;
    expect(err.code).toBe('validation_failed');
    return (err.extra.errors as { field: string }[])[0]?.field;
  }
  throw new Error('expected a validation error');
}

/** A pino destination that keeps every line. */
function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

describe('masked everywhere', () => {
  it('gives the masked form from toString, template strings, concatenation and String()', () => {
    const { card, id, phone, name, latin } = all();
    expect(String(card)).toBe('622848*********8903');
    expect(`${id}`).toBe('110***********002X');
    expect('' + phone).toBe('139****5678');
    expect(`${name}`).toBe('欧阳**');
    expect(latin.toString()).toBe('J******* *********');
    expectNoClear([String(card), `${id}`, `${phone}`, `${name}`, `${latin}`, card + '', [card, id].join(',')].join('|'));
  });

  it('gives the masked form from JSON.stringify, spread and structuredClone', () => {
    const v = all();
    const json = JSON.stringify({ holder: v, list: Object.values(v) });
    expect(json).toContain('"622848*********8903"');
    expectNoClear(json);
    expectNoClear(JSON.stringify(Object.values(v).map((x) => ({ ...x }))));
    expectNoClear(JSON.stringify(Object.values(v).map((x) => structuredClone({ ...x }))));
    expect(Object.keys(v.id)).not.toContain('birthDate');
  });

  it('gives the masked form from util.inspect and util.format, at any depth', () => {
    const v = all();
    const text = [
      inspect(v),
      inspect({ deep: { deeper: { v } } }, { depth: 10, showHidden: true }),
      format('%s %o %O %j %d', v.card, v.id, v.phone, v.name, v.card),
    ].join('\n');
    expect(text).toContain('CardNumber(622848*********8903)');
    expectNoClear(text);
  });

  it('never shows the clear value through a bare pino logger (no redaction, no scrub)', () => {
    const { lines, stream } = sink();
    const log = pino({ level: 'debug' }, stream);
    const v = all();
    log.info({ holder: v, card: v.card }, 'binding %s for %s', v.card, v.name);
    log.info(`template ${v.card} ${v.id} ${v.phone} ${v.latin}`);
    log.warn({ list: Object.values(v) }, '%o', v.id);
    log.error({ err: new Error(`core refused ${v.card} of ${v.name}`) }, 'failed');
    log.child({ phone: v.phone }).debug('child logger');
    expect(lines).toHaveLength(5);
    expectNoClear(lines.join('\n'));
    expect(lines.join('\n')).toContain('622848*********8903');
  });

  it('never shows the clear value through the app logger, whose lines the suite-wide leak scan also checks', () => {
    const { log, lines } = captureLogs();
    const v = all();
    log.info({ something: v, idDoc: v.id, who: v.name }, `bound ${v.card} for ${v.latin}`);
    log.error({ err: new AppError('card_not_bindable', `elements of ${v.card} do not match ${v.phone}`) }, 'bind failed');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expectNoClear(lines.join('\n'));
    expect(lines.join('\n')).toContain('欧阳**');
  });

  it('gives the clear value only through reveal()', () => {
    const { card, id, phone, name } = all();
    expect(card.reveal()).toBe(CARD);
    expect(id.reveal()).toBe(ID);
    expect(phone.reveal()).toBe(PHONE);
    expect(phone.revealE164()).toBe(`+86${PHONE}`);
    expect(name.reveal()).toBe(NAME);
  });
});

describe('CardNumber', () => {
  it('parses typed input and carries the Luhn status and BIN label', () => {
    const card = CardNumber.parse('6228 4800 1234 5678 903');
    expect(card.reveal()).toBe(CARD);
    expect(card.luhn).toBe('pass');
    expect(card.bin?.issuerCode).toBe('ABC');
    expect(card.last4).toBe('8903');
    expect(card.masked).toBe('622848*********8903');
    expect(CardNumber.parse('6228480012345678904').luhn).toBe('fail-unionpay-check-with-bank');
  });

  it('refuses malformed numbers with validation_failed naming the field, never echoing the number', () => {
    expect(validationField(() => CardNumber.parse('4111111111111112', 'body.cardNumber'))).toBe('body.cardNumber');
    expect(validationField(() => CardNumber.parse('12345'))).toBe('cardNumber');
    try {
      CardNumber.parse('4111111111111112');
    } catch (e) {
      expect(JSON.stringify((e as AppError).extra) + (e as Error).message).not.toContain('4111111111111112');
    }
  });

  it('compares by clear value', () => {
    expect(CardNumber.parse(CARD).equals(CardNumber.parse('6228-4800-1234-5678-903'))).toBe(true);
    expect(CardNumber.parse(CARD).equals(CardNumber.parse('6222021234567890128'))).toBe(false);
  });
});

describe('IdNumber', () => {
  it('detects the document type, or takes the given one', () => {
    const id = IdNumber.parse('11010519491231002x', { today: TODAY });
    expect(id.type).toBe('resident_id');
    expect(id.reveal()).toBe(ID);
    expect(id.birthDate).toBe('1949-12-31');
    expect(id.sex).toBe('female');
    const permit = IdNumber.parse('H12345678', { today: TODAY });
    expect(permit.type).toBe('hk_macao_travel_permit');
    expect(permit.region).toBe('HK');
    expect(`${permit}`).toBe('H******78');
    expect(IdNumber.parse('H12345678', { today: TODAY, type: 'passport' }).type).toBe('passport');
  });

  it('refuses invalid numbers with validation_failed naming the field', () => {
    expect(validationField(() => IdNumber.parse('310101200001011234', { today: TODAY }))).toBe('idNumber');
    expect(validationField(() => IdNumber.parse('!!', { today: TODAY, field: 'body.idNumber' }))).toBe('body.idNumber');
    expect(validationField(() => IdNumber.parse('12345678', { today: TODAY, type: 'resident_id' }))).toBe('idNumber');
  });
});

describe('Phone', () => {
  it('accepts mainland mobiles with spaces, dashes and +86 / 0086 / 86 prefixes', () => {
    for (const raw of ['13912345678', '139 1234 5678', '139-1234-5678', '+86 139 1234 5678', '+86-13912345678', '008613912345678', '8613912345678', '(+86)13912345678']) {
      expect(Phone.parse(raw).reveal(), raw).toBe(PHONE);
    }
    expect(normaliseChinaMobile('19912345678')).toBe('19912345678');
  });

  it('refuses numbers that are not mainland mobiles', () => {
    for (const raw of ['12912345678', '1391234567', '139123456789', '02112345678', '+85291234567', '+1 139 1234 5678', 'abc', '']) {
      expect(normaliseChinaMobile(raw), raw).toBeUndefined();
      expect(validationField(() => Phone.parse(raw))).toBe('phone');
    }
  });
});

describe('PersonName', () => {
  it('accepts names in any script with their separators, trimmed and with spaces collapsed', () => {
    expect(PersonName.parse('  张三 ').reveal()).toBe('张三');
    expect(PersonName.parse('买买提·艾力').reveal()).toBe('买买提·艾力');
    expect(PersonName.parse('Anne-Marie   O’Neil').reveal()).toBe('Anne-Marie O’Neil');
    expect(`${PersonName.parse('张三')}`).toBe('张*');
  });

  it('refuses empty names, digits, symbols and names past the length limit', () => {
    for (const raw of ['', '   ', '张3', 'Robert); DROP', '<b>x</b>', '·张三', 'a'.repeat(65)]) {
      expect(validationField(() => PersonName.parse(raw)), raw).toBe('holderName');
    }
  });
});

describe('logger wiring', () => {
  it('createLogger keeps wrappers masked even at a redacted path', () => {
    const { lines, stream } = sink();
    const log = createLogger('info', stream);
    log.info({ cardNumber: CardNumber.parse(CARD), nested: { phone: Phone.parse(PHONE) } }, 'x');
    expectNoClear(lines.join('\n'));
    expect(lines.join('\n')).toContain('[redacted]');
  });
});
