// Pure rules for what may enter the audit log and consent history: limits, shapes, and the refusal of clear sensitive values.
import { scrubText } from '../shared/mask.ts';

/** Longest canonical JSON of an entry's detail. */
export const AUDIT_DETAIL_MAX_CHARS = 4_000;
/** Nesting depth of detail objects and arrays. */
export const AUDIT_DETAIL_MAX_DEPTH = 6;
/** Longest actor, subject, device and request id kept. */
export const AUDIT_ID_MAX_CHARS = 128;
/** Longest IP text kept (an IPv6 with zone fits). */
export const AUDIT_IP_MAX_CHARS = 64;

/** PIPL art. 29 wants separate consent per sensitive purpose; financial information is the first. */
export const CONSENT_PURPOSES = ['financial_info', 'bill_sharing_cs', 'face_verification', 'sms_banking', 'location', 'marketing'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];
/** A notice version as the privacy notice names it: `2026-01`, `v3.2`. */
export const NOTICE_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
export const CONSENT_CHANNEL_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

export const ACTION_PATTERN = /^[a-z][a-z0-9_]{0,31}(?:\.[a-z][a-z0-9_]{0,31}){1,3}$/;
export const KIND_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

/** A caller bug: the entry would put a clear sensitive value or an unbounded field into the log. */
export class AuditRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditRefusedError';
  }
}

export function isConsentPurpose(s: unknown): s is ConsentPurpose {
  return typeof s === 'string' && (CONSENT_PURPOSES as readonly string[]).includes(s);
}

/**
 * True when free text holds something shaped like a clear card number, resident ID or mobile
 * number: the logger's backstop patterns (src/shared/mask.ts) would change it.
 */
export function holdsClearNumber(text: string): boolean {
  return scrubText(text) !== text;
}

/**
 * An id our code chose (user id, card token, operator id) that is in fact a clear number: all
 * digits (spaces, dashes and a leading + aside) 11–19 long, or an 18-character resident ID.
 * Opaque tokens (`card_7h3k…`) can hold digit runs by chance and are not scanned as free text.
 */
export function looksLikeClearNumber(id: string): boolean {
  const s = id.replace(/[\s-]/g, '').replace(/^\+/, '');
  return /^\d{11,19}$/.test(s) || /^\d{17}[Xx]$/.test(s);
}

/**
 * JSON with object keys sorted at every level, so equal details give equal bytes (and hashes).
 * Dates become ISO strings and bigints decimal strings; undefined members are dropped; anything
 * else that JSON cannot carry is refused.
 */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > AUDIT_DETAIL_MAX_DEPTH) throw new AuditRefusedError(`audit detail nests deeper than ${AUDIT_DETAIL_MAX_DEPTH}`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new AuditRefusedError('audit detail holds a non-finite number');
      return JSON.stringify(value);
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object': {
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v, depth + 1))).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new AuditRefusedError('audit detail holds a non-plain object');
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], depth + 1)}`).join(',')}}`;
    }
    default:
      throw new AuditRefusedError(`audit detail holds a ${typeof value}`);
  }
}

/** Every string (keys and values) in a detail, for the sensitive-value scan. Numbers are not text and are not scanned. */
function* stringsOf(value: unknown): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const v of value) yield* stringsOf(v);
  else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      yield k;
      yield* stringsOf(v);
    }
  }
}

/**
 * Our own opaque ids (`newId`: a short prefix, `_`, Crockford base32). Their random part holds an
 * 11-digit run shaped like a mobile number about once in 700,000 ids: scanned as free text, that
 * would fail a balance read every few minutes across a busy installation. A random part with no
 * letter is no token of ours and is scanned like any text.
 */
const OPAQUE_ID = /^[a-z][a-z0-9]{0,15}_(?=[0-9a-z]*[a-z])[0-9a-hjkmnp-tv-z]{8,64}$/;

export function isOpaqueId(s: string): boolean {
  return OPAQUE_ID.test(s);
}

/**
 * The detail as stored: canonical JSON, or null when there is none. Throws AuditRefusedError
 * when any string in it looks like a clear card, ID or phone number (callers mask first, and
 * pass client-supplied text through scrubText), or when it is larger than the limit. Amounts go
 * in as numbers or bigints: they are not text and are not scanned (an amount string of 11 digits
 * starting 13–19 would read as a mobile number).
 */
export function auditDetailText(detail: Record<string, unknown> | undefined): string | null {
  if (detail === undefined) return null;
  for (const s of stringsOf(detail)) {
    if (looksLikeClearNumber(s) || (!isOpaqueId(s) && holdsClearNumber(s))) {
      throw new AuditRefusedError('audit detail holds what looks like a clear card, ID or phone number; record masked values only');
    }
  }
  const text = canonicalJson(detail);
  if (text.length > AUDIT_DETAIL_MAX_CHARS) throw new AuditRefusedError(`audit detail is longer than ${AUDIT_DETAIL_MAX_CHARS} characters`);
  return text;
}

/** An id set by our own code: bounded, and never a clear number (a caller passing a card number as the subject). */
export function checkedId(what: string, id: string): string {
  if (id.length === 0 || id.length > AUDIT_ID_MAX_CHARS) throw new AuditRefusedError(`audit ${what} must be 1–${AUDIT_ID_MAX_CHARS} characters`);
  if (looksLikeClearNumber(id)) throw new AuditRefusedError(`audit ${what} looks like a clear card, ID or phone number; use the opaque id`);
  return id;
}

/**
 * A value the client controls (X-Device-Id, X-Request-Id, the address): a refusal would let any
 * client turn its own reads into errors, so it is masked and cut to length instead.
 */
export function clientValue(value: string | undefined, maxChars: number): string | null {
  if (value === undefined || value === '') return null;
  return scrubText(value).slice(0, maxChars);
}

export function checkedAction(action: string): string {
  if (!ACTION_PATTERN.test(action)) throw new AuditRefusedError(`audit action ${JSON.stringify(action.slice(0, 80))} is not a dotted verb like balance.read`);
  return action;
}

export function checkedKind(what: string, kind: string): string {
  if (!KIND_PATTERN.test(kind)) throw new AuditRefusedError(`audit ${what} kind must match ${KIND_PATTERN}`);
  return kind;
}
