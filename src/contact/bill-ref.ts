// Opaque bill references: (tenant, user, kind, source id) sealed with a deterministic authenticated cipher, so handing one out costs no write.
//
// Why sealed rather than stored: a statement page would otherwise write a row per transaction on a
// read path. Why deterministic (SIV: the IV is a MAC of the plaintext) rather than random-IV GCM: a
// random 96-bit IV under one key is only safe for about 2^32 seals, which a statement-heavy install
// can reach; SIV has no nonce to repeat, and the same bill keeps the same ref (clients may cache it).
// A ref reveals nothing but equality; a forged or altered one fails the MAC.
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { FieldCrypto } from '../shared/crypto.ts';
import { BILL_KINDS, isBillKind, type BillKind } from './policy.ts';

export interface BillIdentity {
  tenantId: string;
  userId: string;
  kind: BillKind;
  /** Defined by the kind's BillSource (e.g. transactionSourceId); at most SOURCE_ID_MAX_CHARS. */
  sourceId: string;
}

const PREFIX = 'b1';
const SIV_BYTES = 16;
export const SOURCE_ID_MAX_CHARS = 160;
/** The longest ref this module issues (tenant 40 + user 64 + source 160 characters, sealed and base64url). */
export const BILL_REF_MAX_CHARS = 400;
export const BILL_REF_PATTERN = /^b1[A-Za-z0-9_-]{40,398}$/;
const ID_FIELD = /^[A-Za-z0-9_.:-]{1,64}$/;
const SEP = '\n';

interface RefKeys {
  enc: Buffer;
  mac: Buffer;
}

// Derived once per FieldCrypto: HMAC-SM3 under the install's blind-index key is a PRF, so these are
// independent keys of their own domain (the blind-index key is never rotated in place, so refs stay valid).
const keysOf = new WeakMap<FieldCrypto, RefKeys>();
function refKeys(crypto: FieldCrypto): RefKeys {
  let k = keysOf.get(crypto);
  if (!k) {
    k = {
      enc: Buffer.from(crypto.blindIndex('contact.bill_ref.enc', 'v1'), 'hex'),
      mac: Buffer.from(crypto.blindIndex('contact.bill_ref.mac', 'v1'), 'hex'),
    };
    keysOf.set(crypto, k);
  }
  return k;
}

export class BillRefError extends Error {
  override name = 'BillRefError';
}

function plaintextOf(b: BillIdentity): Buffer {
  if (!ID_FIELD.test(b.tenantId) || !ID_FIELD.test(b.userId)) throw new BillRefError('tenant and user ids must be short opaque ids');
  if (!isBillKind(b.kind)) throw new BillRefError(`kind must be one of ${BILL_KINDS.join(', ')}`);
  if (typeof b.sourceId !== 'string' || b.sourceId.length === 0 || b.sourceId.length > SOURCE_ID_MAX_CHARS || b.sourceId.includes(SEP)) {
    throw new BillRefError(`sourceId must be 1–${SOURCE_ID_MAX_CHARS} characters without a newline`);
  }
  return Buffer.from([b.tenantId, b.userId, b.kind, b.sourceId].join(SEP), 'utf8');
}

function siv(keys: RefKeys, plaintext: Buffer): Buffer {
  return createHmac('sha256', keys.mac).update(plaintext).digest().subarray(0, SIV_BYTES);
}

/** The bill's ref: `b1` + base64url(SIV ‖ AES-256-CTR(plaintext, iv = SIV)). */
export function sealBillRef(crypto: FieldCrypto, b: BillIdentity): string {
  const keys = refKeys(crypto);
  const pt = plaintextOf(b);
  const iv = siv(keys, pt);
  const cipher = createCipheriv('aes-256-ctr', keys.enc, iv);
  return PREFIX + Buffer.concat([iv, cipher.update(pt), cipher.final()]).toString('base64url');
}

/** The bill a ref names, or undefined for anything this install did not issue (malformed, forged, altered). */
export function openBillRef(crypto: FieldCrypto, ref: string): BillIdentity | undefined {
  if (typeof ref !== 'string' || ref.length > BILL_REF_MAX_CHARS || !BILL_REF_PATTERN.test(ref)) return undefined;
  const raw = Buffer.from(ref.slice(PREFIX.length), 'base64url');
  // Canonical encoding only: another spelling of the same bytes is not a ref we issued.
  if (raw.length <= SIV_BYTES || raw.toString('base64url') !== ref.slice(PREFIX.length)) return undefined;
  const keys = refKeys(crypto);
  const iv = raw.subarray(0, SIV_BYTES);
  const decipher = createCipheriv('aes-256-ctr', keys.enc, iv);
  const pt = Buffer.concat([decipher.update(raw.subarray(SIV_BYTES)), decipher.final()]);
  if (!timingSafeEqual(siv(keys, pt), iv)) return undefined;
  const [tenantId, userId, kind, ...rest] = pt.toString('utf8').split(SEP);
  const sourceId = rest.join(SEP);
  if (!tenantId || !userId || !isBillKind(kind) || !sourceId) return undefined;
  return { tenantId, userId, kind, sourceId };
}

/** A stable, non-reversible key of the bill for the module's own rows (funnel journeys, requests). */
export function billKeyOf(crypto: FieldCrypto, b: BillIdentity): string {
  return crypto.blindIndex('contact.bill', plaintextOf(b).toString('utf8'));
}
