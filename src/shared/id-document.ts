// Identity documents: normalisation, automatic type detection, validation (GB 11643 check), demo numbers.
import { randomInt, toAsciiDigits, type RandomSource } from './card-number.ts';

export type IdType =
  | 'resident_id' // 居民身份证 (GB 11643-1999)
  | 'hmt_residence_permit' // 港澳台居民居住证 (810000 / 820000 / 830000)
  | 'hk_macao_travel_permit' // 港澳居民来往内地通行证 (回乡证)
  | 'taiwan_travel_permit' // 台湾居民来往大陆通行证 (台胞证)
  | 'foreign_permanent_resident' // 外国人永久居留身份证
  | 'passport';

export const ID_TYPES: readonly IdType[] = [
  'resident_id',
  'hmt_residence_permit',
  'hk_macao_travel_permit',
  'taiwan_travel_permit',
  'foreign_permanent_resident',
  'passport',
];

export type IdRegion = 'HK' | 'MO' | 'TW';

export interface IdDocument {
  type: IdType;
  /** Normalised: upper case, no spaces, dashes or brackets. */
  number: string;
  /** `legacy` for older document formats that are still accepted (see each type). */
  format: 'current' | 'legacy';
  /** YYYY-MM-DD, when the number encodes it. */
  birthDate?: string;
  /** From the sequence code's parity (odd = male), when the number encodes it. */
  sex?: 'male' | 'female';
  /** GB/T 2260 province code (2 digits) of a resident ID, or the accepting province of a new foreign ID. */
  provinceCode?: string;
  /** Hong Kong, Macao or Taiwan, for the documents of their residents. */
  region?: IdRegion;
}

export type IdRejectReason =
  | 'empty'
  | 'too_long'
  | 'format'
  | 'region'
  | 'birth_date'
  | 'birth_date_in_future'
  | 'check_character'
  | 'legacy_15_digit';

export type IdCheck = ({ ok: true } & IdDocument) | { ok: false; reason: IdRejectReason; message: string };

const REJECT_MESSAGES: Record<IdRejectReason, string> = {
  empty: 'a document number is required',
  too_long: 'the document number is too long',
  format: 'the document number does not have the format of this document type',
  region: 'the region code at the start of the number does not exist',
  birth_date: 'the birth date in the number is not a real date',
  birth_date_in_future: 'the birth date in the number is in the future',
  check_character: 'the number is mistyped (its check character does not match)',
  // 公安部: first-generation (15-digit) resident ID cards ceased to be valid on 2013-01-01.
  legacy_15_digit: 'first-generation 15-digit ID cards are no longer valid; use the 18-digit number',
};

/** Raw input longer than this is rejected before any work. */
const MAX_RAW_ID_CHARS = 40;
/** Oldest plausible birth year encoded in a document (the standard's own examples include 1880). */
const MIN_BIRTH_YEAR = 1800;

/**
 * GB/T 2260 province-level codes that resident IDs are issued under. 71 (Taiwan), 81 (Hong Kong)
 * and 82 (Macao) exist in GB/T 2260 but no resident ID carries them; their residents hold
 * residence permits with the 810000 / 820000 / 830000 prefixes instead.
 */
export const PROVINCE_CODES: ReadonlySet<string> = new Set([
  '11', '12', '13', '14', '15', // 北京 天津 河北 山西 内蒙古
  '21', '22', '23', // 辽宁 吉林 黑龙江
  '31', '32', '33', '34', '35', '36', '37', // 上海 江苏 浙江 安徽 福建 江西 山东
  '41', '42', '43', '44', '45', '46', // 河南 湖北 湖南 广东 广西 海南
  '50', '51', '52', '53', '54', // 重庆 四川 贵州 云南 西藏
  '61', '62', '63', '64', '65', // 陕西 甘肃 青海 宁夏 新疆
]);

const PERMIT_PREFIXES: Readonly<Record<string, IdRegion>> = { '810000': 'HK', '820000': 'MO', '830000': 'TW' };

// GB 11643-1999 §6: weights 2^(i) mod 11 for positions 18…2, and the check character table.
const GB11643_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const GB11643_CHECK = '10X98765432';

/** The GB 11643-1999 check character (`0`–`9` or `X`) for the first 17 digits. */
export function gb11643CheckCharacter(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new TypeError('gb11643CheckCharacter: 17 digits expected');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * GB11643_WEIGHTS[i]!;
  return GB11643_CHECK[sum % 11]!;
}

/**
 * Upper case, full-width characters (typed with a Chinese IME) to ASCII, spaces, dashes and
 * brackets removed (`12345678(B)` → `12345678B`). Does not validate.
 */
export function normaliseIdNumber(raw: string): string {
  return toAsciiDigits(raw)
    .replace(/[\uFF21-\uFF3A\uFF41-\uFF5A]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/[\s\u3000\u00a0\-\u2010-\u2015\uFF0D()（）]/g, '')
    .toUpperCase();
}

/** "Today" for date checks: a Date (read in Asia/Shanghai) or an Asia/Shanghai date `YYYY-MM-DD`. */
export type Today = Date | string;

// Asia/Shanghai has been UTC+8 without daylight saving since 1991; birth dates are checked against
// today's date there (DOMAIN.md: business day and "today" are Asia/Shanghai).
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;

function todayIso(today: Today): string {
  if (typeof today === 'string') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(today)) throw new TypeError('today must be YYYY-MM-DD');
    return today;
  }
  return new Date(today.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** `YYYYMMDD` → `YYYY-MM-DD` when it is a real calendar date, else undefined. */
function realDate(yyyymmdd: string): string | undefined {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (m < 1 || m > 12 || d < 1) return undefined;
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (d > daysInMonth) return undefined;
  return `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;
}

type Reject = { ok: false; reason: IdRejectReason; message: string };
const reject = (reason: IdRejectReason): Reject => ({ ok: false, reason, message: REJECT_MESSAGES[reason] });

function checkBirthDate(yyyymmdd: string, today: Today): string | Reject {
  const iso = realDate(yyyymmdd);
  if (!iso || Number(yyyymmdd.slice(0, 4)) < MIN_BIRTH_YEAR) return reject('birth_date');
  if (iso > todayIso(today)) return reject('birth_date_in_future');
  return iso;
}

/**
 * The 18-character GB 11643 structure shared by resident IDs, HK/Macao/Taiwan residence permits
 * and new foreign permanent resident IDs: birth date at 7–14, sequence at 15–17 (odd = male),
 * check character at 18.
 */
function checkGb11643(n: string, today: Today): { birthDate: string; sex: 'male' | 'female' } | Reject {
  const birth = checkBirthDate(n.slice(6, 14), today);
  if (typeof birth !== 'string') return birth;
  if (gb11643CheckCharacter(n.slice(0, 17)) !== n[17]) return reject('check_character');
  return { birthDate: birth, sex: (n.charCodeAt(16) - 48) % 2 === 1 ? 'male' : 'female' };
}

const GB11643_SHAPE = /^\d{17}[\dX]$/;
const HK_MACAO_PERMIT = /^[HM]\d{8}$/;
const HK_MACAO_PERMIT_LEGACY = /^[HM]\d{10}$/;
const TAIWAN_PERMIT = /^\d{8}$/;
// Older 台胞证 numbers: digits followed by a letter that counts reissues, often written in brackets.
const TAIWAN_PERMIT_LEGACY = /^\d{8,10}[A-Z]$/;
const FOREIGN_LEGACY = /^[A-Z]{3}\d{12}$/;
const PASSPORT = /^[A-Z0-9]{5,17}$/;

/**
 * The most likely document type of a number, from its shape alone (DOMAIN.md: the type is detected
 * automatically, so HK/Macao/Taiwan residents can bind with their permits). 18 characters:
 * 810000/820000/830000 → residence permit, leading 9 → foreign permanent resident, else resident
 * ID; H/M + 8 or 10 digits → 回乡证; 8 digits (or older digits + letter) → 台胞证; 3 letters +
 * 12 digits → old foreign permanent resident ID; other 5–17 letters/digits → passport.
 * A passport can share a shape with a permit; the cardholder may override the guess.
 */
export function detectIdType(raw: string): IdType | undefined {
  if (typeof raw !== 'string' || raw.length > MAX_RAW_ID_CHARS) return undefined;
  const n = normaliseIdNumber(raw);
  if (GB11643_SHAPE.test(n)) {
    if (Object.hasOwn(PERMIT_PREFIXES, n.slice(0, 6))) return 'hmt_residence_permit';
    if (n.startsWith('9')) return 'foreign_permanent_resident';
    return 'resident_id';
  }
  if (/^\d{15}$/.test(n)) return 'resident_id';
  if (HK_MACAO_PERMIT.test(n) || HK_MACAO_PERMIT_LEGACY.test(n)) return 'hk_macao_travel_permit';
  if (TAIWAN_PERMIT.test(n) || TAIWAN_PERMIT_LEGACY.test(n)) return 'taiwan_travel_permit';
  if (FOREIGN_LEGACY.test(n)) return 'foreign_permanent_resident';
  if (PASSPORT.test(n)) return 'passport';
  return undefined;
}

/**
 * Validates a number as the given document type. Format checks only go as far as the number can
 * show: the issuing authority (through the bank's verification) decides whether it exists.
 * Messages never contain the number.
 */
export function validateIdDocument(type: IdType, raw: string, today: Today): IdCheck {
  if (typeof raw !== 'string') return reject('format');
  if (raw.length > MAX_RAW_ID_CHARS) return reject('too_long');
  const n = normaliseIdNumber(raw);
  if (n === '') return reject('empty');
  switch (type) {
    case 'resident_id': {
      if (/^\d{15}$/.test(n)) return reject('legacy_15_digit');
      if (!GB11643_SHAPE.test(n)) return reject('format');
      const provinceCode = n.slice(0, 2);
      if (!PROVINCE_CODES.has(provinceCode)) return reject('region');
      const r = checkGb11643(n, today);
      if ('ok' in r) return r;
      return { ok: true, type, number: n, format: 'current', provinceCode, ...r };
    }
    case 'hmt_residence_permit': {
      if (!GB11643_SHAPE.test(n)) return reject('format');
      const region = Object.hasOwn(PERMIT_PREFIXES, n.slice(0, 6)) ? PERMIT_PREFIXES[n.slice(0, 6)] : undefined;
      if (!region) return reject('region');
      const r = checkGb11643(n, today);
      if ('ok' in r) return r;
      return { ok: true, type, number: n, format: 'current', region, ...r };
    }
    case 'foreign_permanent_resident': {
      if (FOREIGN_LEGACY.test(n)) return { ok: true, type, number: n, format: 'legacy' };
      // 2023 card: 9, accepting province (2), nationality (3), birth date (8), sequence (3), check.
      if (!GB11643_SHAPE.test(n) || !n.startsWith('9')) return reject('format');
      const provinceCode = n.slice(1, 3);
      if (!PROVINCE_CODES.has(provinceCode)) return reject('region');
      const r = checkGb11643(n, today);
      if ('ok' in r) return r;
      // The new card's sequence parity is not documented as encoding sex, so none is reported.
      return { ok: true, type, number: n, format: 'current', provinceCode, birthDate: r.birthDate };
    }
    case 'hk_macao_travel_permit': {
      const current = HK_MACAO_PERMIT.test(n);
      if (!current && !HK_MACAO_PERMIT_LEGACY.test(n)) return reject('format');
      return { ok: true, type, number: n, format: current ? 'current' : 'legacy', region: n[0] === 'H' ? 'HK' : 'MO' };
    }
    case 'taiwan_travel_permit': {
      const current = TAIWAN_PERMIT.test(n);
      if (!current && !TAIWAN_PERMIT_LEGACY.test(n)) return reject('format');
      return { ok: true, type, number: n, format: current ? 'current' : 'legacy', region: 'TW' };
    }
    case 'passport': {
      if (!PASSPORT.test(n)) return reject('format');
      return { ok: true, type, number: n, format: 'current' };
    }
    default: {
      const never: never = type;
      throw new TypeError(`unknown ID type ${String(never)}`);
    }
  }
}

/** Detects the type, then validates as that type; `format` when no type fits. */
export function detectAndValidateIdDocument(raw: string, today: Today): IdCheck {
  const type = detectIdType(raw);
  if (!type) return typeof raw === 'string' && raw.trim() === '' ? reject('empty') : reject('format');
  return validateIdDocument(type, raw, today);
}

// Real county-level codes (GB/T 2260) for demo numbers, so generated IDs look like real ones.
const DEMO_REGION_CODES = ['110105', '110108', '310104', '310115', '440305', '440106', '330106', '320102', '420106', '510107', '610113', '370202'];
const DEMO_MIN_BIRTH = '1940-01-01';
const DEMO_MAX_AGE_YEARS = 18;
const DAY_MS = 86_400_000;

function randomBirthDate(random: RandomSource, today: Today): string {
  const t = todayIso(today);
  const latest = `${Number(t.slice(0, 4)) - DEMO_MAX_AGE_YEARS}${t.slice(4)}`;
  const from = Date.parse(`${DEMO_MIN_BIRTH}T00:00:00Z`);
  const to = Date.parse(`${latest.replace(/-02-29$/, '-02-28')}T00:00:00Z`);
  const days = Math.floor((to - from) / DAY_MS);
  return new Date(from + randomInt(random, days + 1) * DAY_MS).toISOString().slice(0, 10);
}

function digits(random: RandomSource, count: number): string {
  let s = '';
  for (let i = 0; i < count; i++) s += String(randomInt(random, 10));
  return s;
}

export interface GenerateIdOptions {
  today: Today;
  /** YYYY-MM-DD; default: a random adult birth date. */
  birthDate?: string;
  sex?: 'male' | 'female';
  /** Resident IDs: a 6-digit region code; default: one of a few real county codes. */
  regionCode?: string;
  /** Residence permits and travel permits: whose document. */
  region?: IdRegion;
}

function gb11643Number(prefix6: string, random: RandomSource, opts: GenerateIdOptions): string {
  const birth = (opts.birthDate ?? randomBirthDate(random, opts.today)).replaceAll('-', '');
  const sex = opts.sex ?? (randomInt(random, 2) === 0 ? 'male' : 'female');
  // Sequence 3 digits; the last one's parity carries sex (odd = male).
  const seqHead = digits(random, 2);
  const seqLast = randomInt(random, 5) * 2 + (sex === 'male' ? 1 : 0);
  const first17 = `${prefix6}${birth}${seqHead}${seqLast}`;
  return first17 + gb11643CheckCharacter(first17);
}

/**
 * A fictitious, valid-looking document number of the given type, for demo data and tests only.
 * Deterministic for a seeded `random`. A generated number can coincide with a real person's,
 * so it is handled as sensitive like any other and never used outside the sandbox.
 */
export function generateIdNumber(type: IdType, random: RandomSource, opts: GenerateIdOptions): string {
  switch (type) {
    case 'resident_id': {
      const region = opts.regionCode ?? DEMO_REGION_CODES[randomInt(random, DEMO_REGION_CODES.length)]!;
      if (!/^\d{6}$/.test(region) || !PROVINCE_CODES.has(region.slice(0, 2))) throw new RangeError('regionCode must be a mainland 6-digit code');
      return gb11643Number(region, random, opts);
    }
    case 'hmt_residence_permit': {
      const region = opts.region ?? (['HK', 'MO', 'TW'] as const)[randomInt(random, 3)]!;
      const prefix = Object.keys(PERMIT_PREFIXES).find((p) => PERMIT_PREFIXES[p] === region)!;
      return gb11643Number(prefix, random, opts);
    }
    case 'foreign_permanent_resident': {
      const province = [...PROVINCE_CODES][randomInt(random, PROVINCE_CODES.size)]!;
      // Nationality: a few ISO 3166-1 numeric codes (USA, Japan, Korea, Germany, France, Singapore).
      const nationality = ['840', '392', '410', '276', '250', '702'][randomInt(random, 6)]!;
      const birth = (opts.birthDate ?? randomBirthDate(random, opts.today)).replaceAll('-', '');
      const first17 = `9${province}${nationality}${birth}${digits(random, 3)}`;
      return first17 + gb11643CheckCharacter(first17);
    }
    case 'hk_macao_travel_permit': {
      const letter = (opts.region ?? (randomInt(random, 2) === 0 ? 'HK' : 'MO')) === 'MO' ? 'M' : 'H';
      return letter + digits(random, 8);
    }
    case 'taiwan_travel_permit':
      return digits(random, 8);
    case 'passport':
      // Shape of a current Chinese ordinary passport (E + 8 digits).
      return `E${digits(random, 8)}`;
    default: {
      const never: never = type;
      throw new TypeError(`unknown ID type ${String(never)}`);
    }
  }
}
