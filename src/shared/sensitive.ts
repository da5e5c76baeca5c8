// Typed wrappers for C2 personal data (card, ID, phone, name) whose every printable form is the masked one.
//
// JR/T 0171-2020 grades card numbers, ID numbers, phones and names as C2: encrypted at rest and
// masked on display. A wrapper makes the safe path the easy one: string conversion, template
// strings, JSON.stringify (so pino), util.inspect (console, test output) and spread all show the
// mask; only an explicit `.reveal()` gives the clear value, which is easy to find in review.
import { inspect } from 'node:util';
import { AppError } from '../app/errors.ts';
import { validateCardNumber, type LuhnStatus } from './card-number.ts';
import type { BinInfo, CardNetwork } from './bins.ts';
import { detectIdType, validateIdDocument, type IdDocument, type IdType, type Today } from './id-document.ts';
import { maskCardNumber, maskIdNumber, maskName, maskPhone } from './mask.ts';

abstract class Sensitive {
  // A true private field: absent from Object.keys, spread, JSON and structuredClone.
  readonly #clear: string;
  /** The display form (also what toString, toJSON and inspect give). */
  readonly masked: string;

  protected constructor(clear: string, masked: string) {
    this.#clear = clear;
    this.masked = masked;
  }

  /** The clear value. Call only where it is needed (encryption, the core, the bank's verification). */
  reveal(): string {
    return this.#clear;
  }

  /** Same value, compared on the clear form (both already normalised). */
  equals(other: Sensitive): boolean {
    return other.constructor === this.constructor && other.reveal() === this.#clear;
  }

  toString(): string {
    return this.masked;
  }

  toJSON(): string {
    return this.masked;
  }

  [Symbol.toPrimitive](): string {
    return this.masked;
  }

  [inspect.custom](): string {
    return `${this.constructor.name}(${this.masked})`;
  }
}

function invalid(field: string, message: string): AppError {
  return AppError.validation([{ field, message }]);
}

/** A bank card number, normalised (digits only) and checked (length, Luhn with the UnionPay exception). */
export class CardNumber extends Sensitive {
  readonly luhn: LuhnStatus;
  readonly network: CardNetwork | undefined;
  readonly bin: BinInfo | undefined;

  private constructor(number: string, luhn: LuhnStatus, network: CardNetwork | undefined, bin: BinInfo | undefined) {
    super(number, maskCardNumber(number));
    this.luhn = luhn;
    this.network = network;
    this.bin = bin;
  }

  /** Parses user input; throws `validation_failed` naming `field` (the message never repeats the number). */
  static parse(raw: string, field = 'cardNumber'): CardNumber {
    const r = validateCardNumber(raw);
    if (!r.ok) throw invalid(field, r.message);
    return new CardNumber(r.number, r.luhn, r.network, r.bin);
  }

  /** Last 4 digits (what a cardholder recognises their card by). */
  get last4(): string {
    return this.reveal().slice(-4);
  }
}

/** An identity document number with its (detected or given) type. */
export class IdNumber extends Sensitive {
  readonly type: IdType;
  readonly format: IdDocument['format'];
  // Birth date and sex are personal data too: prototype getters, so spread and JSON never carry them.
  readonly #doc: IdDocument;

  private constructor(doc: IdDocument) {
    super(doc.number, maskIdNumber(doc.number));
    this.type = doc.type;
    this.format = doc.format;
    this.#doc = doc;
  }

  get birthDate(): string | undefined {
    return this.#doc.birthDate;
  }

  get sex(): IdDocument['sex'] {
    return this.#doc.sex;
  }

  get region(): IdDocument['region'] {
    return this.#doc.region;
  }

  /**
   * Parses user input as `type`, or as the detected type when none is given; `today` (Asia/Shanghai)
   * bounds the birth date. Throws `validation_failed` naming `field`.
   */
  static parse(raw: string, opts: { today: Today; type?: IdType; field?: string }): IdNumber {
    const field = opts.field ?? 'idNumber';
    const type = opts.type ?? detectIdType(raw);
    if (!type) throw invalid(field, 'not a recognised identity document number');
    const r = validateIdDocument(type, raw, opts.today);
    if (!r.ok) throw invalid(field, r.message);
    const { ok: _ok, ...doc } = r;
    return new IdNumber(doc);
  }
}

/** Mainland mobile numbers: 1, then 3–9, then 9 digits (11 in all). */
const CHINA_MOBILE = /^1[3-9]\d{9}$/;

/** Normalises a mainland mobile number (`+86 138-0000-0000` → `13800000000`); undefined if it is not one. */
export function normaliseChinaMobile(raw: string): string | undefined {
  if (typeof raw !== 'string' || raw.length > 32) return undefined;
  const p = raw.replace(/[\s\u3000\-()（）]/g, '').replace(/^(?:\+86|0086|86)(?=\d{11}$)/, '');
  return CHINA_MOBILE.test(p) ? p : undefined;
}

/** A mainland China mobile number, stored as its 11 digits. */
export class Phone extends Sensitive {
  private constructor(digits: string) {
    super(digits, maskPhone(digits));
  }

  /** Accepts spaces, dashes and a `+86` / `0086` / `86` prefix; throws `validation_failed` naming `field`. */
  static parse(raw: string, field = 'phone'): Phone {
    const p = normaliseChinaMobile(raw);
    if (!p) throw invalid(field, 'a mainland mobile number has 11 digits and starts with 13–19');
    return new Phone(p);
  }

  /** The number with its country code, `+8613800000000`, for SMS gateways. */
  revealE164(): string {
    return `+86${this.reveal()}`;
  }
}

/** Longest name accepted, in characters (long transliterated names run past 30). */
export const MAX_NAME_CHARS = 64;
// Letters of any script (Han, Latin, Uyghur, Tibetan …) plus marks, and the separators names use.
const NAME_CHARS = /^[\p{L}\p{M}][\p{L}\p{M}·•・.\-'’ ]*$/u;

/** A person's name as on their ID document. */
export class PersonName extends Sensitive {
  private constructor(name: string) {
    super(name, maskName(name));
  }

  /** Trims and collapses spaces; letters and name separators only; throws `validation_failed` naming `field`. */
  static parse(raw: string, field = 'holderName'): PersonName {
    const n = typeof raw === 'string' ? raw.normalize('NFC').trim().replace(/\s+/g, ' ') : '';
    if (n === '') throw invalid(field, 'a name is required');
    if ([...n].length > MAX_NAME_CHARS) throw invalid(field, `a name has at most ${MAX_NAME_CHARS} characters`);
    if (!NAME_CHARS.test(n)) throw invalid(field, 'a name has letters only (and · - . \' between parts)');
    return new PersonName(n);
  }
}

export type { Sensitive };
