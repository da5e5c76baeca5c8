// Bill refs: an HMAC of (tenant, user, kind, source id): the same bill always gets the same ref, another bill or install another, and nothing of the bill shows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldCrypto } from '../../../src/shared/crypto.ts';
import { BILL_REF_PATTERN, BillRefError, billKeyOf, billRefOf, refOfKey, type BillIdentity } from '../../../src/contact/bill-ref.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('contact-bill-ref');
const install = (b: number) => new FieldCrypto({ keys: { v1: Buffer.alloc(16, 1) }, current: 'v1', blindIndexKey: Buffer.alloc(32, b) });
const A = install(7);
const B = install(8);

const bill: BillIdentity = { tenantId: 'abc-demo', userId: 'usr_01hq3k9x2abcdefghjkmnpqr', kind: 'transaction', sourceId: 'card_01hq3k9x2abcdefghjkmnpqr|1773815400000|tr_01hq3k9x2abcdefghjkmnpqr' };

const identityArb = fc.record({
  tenantId: fc.stringMatching(/^[a-z0-9-]{2,40}$/),
  userId: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/),
  kind: fc.constantFrom('transaction' as const, 'topup' as const),
  sourceId: fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !s.includes('\n')),
});

describe('bill refs', () => {
  it('are the same for the same bill and differ between users, bills and installs', () => {
    const ref = billRefOf(A, bill);
    expect(ref).toMatch(BILL_REF_PATTERN);
    expect(billRefOf(A, { ...bill })).toBe(ref);
    expect(billRefOf(A, { ...bill, userId: 'usr_other' })).not.toBe(ref);
    expect(billRefOf(A, { ...bill, kind: 'topup' })).not.toBe(ref);
    expect(billRefOf(B, bill)).not.toBe(ref);
    for (const part of ['abc', 'card', 'tr_', bill.userId.slice(4, 12)]) expect(ref.slice(5)).not.toContain(part);
  });

  it('take 130 bits of the bill key in Crockford base32 for any identity within the limits', () => {
    expect(refOfKey('ff'.repeat(32))).toBe(`bill_${'z'.repeat(26)}`);
    expect(refOfKey('00'.repeat(32))).toBe(`bill_${'0'.repeat(26)}`);
    check(
      seed,
      fc.property(identityArb, (b) => {
        const key = billKeyOf(A, b);
        expect(key).toMatch(/^[0-9a-f]{64}$/);
        expect(billRefOf(A, b)).toMatch(BILL_REF_PATTERN);
      }),
      200,
    );
  });

  it('refuse identities that could be confused with one another', () => {
    expect(() => billRefOf(A, { ...bill, sourceId: 'a\nb' })).toThrow(BillRefError);
    expect(() => billRefOf(A, { ...bill, sourceId: 'x'.repeat(201) })).toThrow(BillRefError);
    expect(() => billRefOf(A, { ...bill, sourceId: '' })).toThrow(BillRefError);
    expect(() => billRefOf(A, { ...bill, userId: 'a\nb' })).toThrow(BillRefError);
    expect(() => billRefOf(A, { ...bill, kind: 'loan' as never })).toThrow(BillRefError);
  });
});
