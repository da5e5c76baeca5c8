// Opaque bill references: an HMAC of (tenant, user, kind, source id), stored once with what it maps to.
//
// Deterministic (the same bill always gets the same ref): handing refs out for a statement page is
// one idempotent `insert … on conflict do nothing`, a client may cache a ref, and a pruned mapping
// comes back unchanged the next time the bill is listed. Unguessable: 130 bits of HMAC-SM3 under
// the install's blind-index key; never sequential; it says nothing about the bill or its owner.
import type { Db, Tx } from '../db/tx.ts';
import type { FieldCrypto } from '../shared/crypto.ts';
import { BILL_KINDS, isBillKind, type BillKind } from './policy.ts';

export interface BillIdentity {
  tenantId: string;
  userId: string;
  kind: BillKind;
  /** Defined by the kind's BillSource (e.g. transactionSourceId); at most SOURCE_ID_MAX_CHARS. */
  sourceId: string;
}

export const SOURCE_ID_MAX_CHARS = 200;
/** Refs one billRefsFor call takes (a statement page is at most 100 items). */
export const BILL_REFS_BATCH_MAX = 100;
export const BILL_REF_PATTERN = /^bill_[0-9a-hjkmnp-tv-z]{26}$/;
const ID_FIELD = /^[A-Za-z0-9_.:-]{1,64}$/;
const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz';

export class BillRefError extends Error {
  override name = 'BillRefError';
}

function canonical(b: BillIdentity): string {
  if (!ID_FIELD.test(b.tenantId) || !ID_FIELD.test(b.userId)) throw new BillRefError('tenant and user ids must be short opaque ids');
  if (!isBillKind(b.kind)) throw new BillRefError(`kind must be one of ${BILL_KINDS.join(', ')}`);
  if (typeof b.sourceId !== 'string' || b.sourceId.length === 0 || b.sourceId.length > SOURCE_ID_MAX_CHARS || b.sourceId.includes('\n')) {
    throw new BillRefError(`sourceId must be 1–${SOURCE_ID_MAX_CHARS} characters without a newline`);
  }
  return [b.tenantId, b.userId, b.kind, b.sourceId].join('\n');
}

/** A stable key of the bill (64 hex) for the module's own rows; the ref is derived from it. */
export function billKeyOf(crypto: FieldCrypto, b: BillIdentity): string {
  return crypto.blindIndex('contact.bill', canonical(b));
}

/** `bill_` + the first 130 bits of the bill key in Crockford base32. */
export function refOfKey(billKey: string): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of Buffer.from(billKey.slice(0, 34), 'hex')) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return `bill_${out}`;
}

export function billRefOf(crypto: FieldCrypto, b: BillIdentity): string {
  return refOfKey(billKeyOf(crypto, b));
}

/** Stores the refs' mappings (existing ones are left as they are); returns the refs in input order. */
export async function saveBillRefs(db: Db | Tx, crypto: FieldCrypto, bills: readonly BillIdentity[], now: Date): Promise<string[]> {
  if (bills.length > BILL_REFS_BATCH_MAX) throw new BillRefError(`at most ${BILL_REFS_BATCH_MAX} bills per call`);
  const rows = bills.map((b) => {
    const key = billKeyOf(crypto, b);
    return { ref: refOfKey(key), bill_key: key, tenant_id: b.tenantId, user_id: b.userId, kind: b.kind, source_id: b.sourceId, created_at: now };
  });
  if (rows.length > 0) await db.insertInto('contact_bill_refs').values(rows).onConflict((oc) => oc.column('ref').doNothing()).execute();
  return rows.map((r) => r.ref);
}

/** The bill a ref maps to, or undefined for anything this install did not hand out. */
export async function findBillRef(db: Db | Tx, ref: string): Promise<(BillIdentity & { billKey: string }) | undefined> {
  if (typeof ref !== 'string' || !BILL_REF_PATTERN.test(ref)) return undefined;
  const r = await db.selectFrom('contact_bill_refs').selectAll().where('ref', '=', ref).executeTakeFirst();
  if (!r || !isBillKind(r.kind)) return undefined;
  return { tenantId: r.tenant_id, userId: r.user_id, kind: r.kind, sourceId: r.source_id, billKey: r.bill_key };
}
