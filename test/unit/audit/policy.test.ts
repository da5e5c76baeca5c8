// What may enter the audit log: clear card, ID and phone numbers are refused, masked forms pass, details are canonical.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { check, propertySeed } from '../shared/seed.ts';
import {
  AUDIT_DETAIL_MAX_CHARS,
  AuditRefusedError,
  auditDetailText,
  canonicalJson,
  checkedAction,
  checkedId,
  clientValue,
  isConsentPurpose,
  looksLikeClearNumber,
} from '../../../src/audit/policy.ts';
import { maskCardNumber, maskIdNumber, maskPhone } from '../../../src/shared/mask.ts';

const seed = propertySeed('test/unit/audit/policy.test.ts');

describe('audit detail', () => {
  it('refuses a detail holding a clear card number, resident ID or mobile number anywhere, however nested or grouped', () => {
    const clear = [
      { card: '6228480402564890018' },
      { note: 'card 6228 4804 0256 4890 018 read' },
      { nested: { list: ['ok', { id: '11010519491231002X' }] } },
      { phone: '13812345678' },
      { phone: '+86 138 1234 5678' },
      { '13812345678': 'as a key' },
    ];
    for (const d of clear) expect(() => auditDetailText(d)).toThrow(AuditRefusedError);
  });

  it('accepts masked forms, amounts as numbers and opaque ids', () => {
    const text = auditDetailText({
      maskedNumber: maskCardNumber('6228480402564890018'),
      idNumber: maskIdNumber('11010519491231002X'),
      phone: maskPhone('13812345678'),
      amountFen: 13_812_345_678,
      cardId: 'card_0h3k9m2p4q6r8s1t3v5w7x9y',
      freshness: 'realtime',
    });
    expect(text).toContain('622848*********0018');
    expect(JSON.parse(text!)).toMatchObject({ amountFen: 13_812_345_678, phone: '138****5678' });
  });

  it('does not take our opaque ids for phone numbers when their random part happens to hold 11 digits', () => {
    expect(() => auditDetailText({ bindingId: 'bd_k13812345678qrstvwxyz0abc', eventId: 'rev_a15900001111b' })).not.toThrow();
    // A "token" with no letter in it is no token of ours.
    expect(() => auditDetailText({ bindingId: 'bd_13812345678' })).toThrow(AuditRefusedError);
    expect(() => auditDetailText({ card: 'card_6228480402564890018' })).toThrow(AuditRefusedError);
  });

  it('writes keys sorted at every level so equal details are equal bytes', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: true, e: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[2,{"e":null,"f":true}]},"b":1}');
    expect(canonicalJson({ a: undefined, n: 10n, t: new Date('2026-01-05T02:00:00Z') })).toBe('{"n":"10","t":"2026-01-05T02:00:00.000Z"}');
  });

  it('refuses values JSON cannot carry and details past the size limit', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(AuditRefusedError);
    expect(() => canonicalJson({ x: () => 1 })).toThrow(AuditRefusedError);
    expect(() => canonicalJson({ x: new Map() })).toThrow(AuditRefusedError);
    expect(() => auditDetailText({ x: 'a'.repeat(AUDIT_DETAIL_MAX_CHARS) })).toThrow(/longer than/);
    expect(auditDetailText(undefined)).toBeNull();
  });

  it('refuses any 16–19 digit card number and any mobile number put in a detail (property)', () => {
    check(
      seed,
      fc.property(
        fc.oneof(
          fc.stringMatching(/^[1-9]\d{15,18}$/),
          fc.stringMatching(/^1[3-9]\d{9}$/),
        ),
        fc.constantFrom('', 'card ', 'no. ', '卡号'),
        (n, prefix) => {
          expect(() => auditDetailText({ v: `${prefix}${n}` })).toThrow(AuditRefusedError);
        },
      ),
    );
  });

  it('never refuses an opaque id of ours, even one made almost entirely of digits (property)', () => {
    check(
      seed,
      fc.property(
        fc.stringMatching(/^[a-z]{2,5}$/),
        fc.stringMatching(/^\d{0,20}$/),
        fc.stringMatching(/^[a-hjkmnp-tv-z]$/),
        fc.stringMatching(/^\d{0,20}$/),
        (prefix, before, letter, after) => {
          const id = `${prefix}_${before}${letter}${after}`.slice(0, 70);
          fc.pre(id.length - prefix.length - 1 >= 8);
          expect(() => auditDetailText({ id })).not.toThrow();
        },
      ),
    );
  });

  it('accepts every masked card number and phone (property)', () => {
    check(
      seed,
      fc.property(fc.stringMatching(/^[1-9]\d{15,18}$/), fc.stringMatching(/^1[3-9]\d{9}$/), (card, phone) => {
        expect(() => auditDetailText({ card: maskCardNumber(card), phone: maskPhone(phone) })).not.toThrow();
      }),
    );
  });
});

describe('audit ids and fields', () => {
  it('refuses an id that is a clear number but accepts opaque tokens that happen to hold digits', () => {
    expect(() => checkedId('subject id', '6228480402564890018')).toThrow(/opaque id/);
    expect(() => checkedId('actor id', '138-1234-5678')).toThrow(AuditRefusedError);
    expect(() => checkedId('actor id', '11010519491231002X')).toThrow(AuditRefusedError);
    expect(checkedId('subject id', 'card_13812345678abcdefghjkm')).toBe('card_13812345678abcdefghjkm');
    expect(checkedId('actor id', 'op_10001')).toBe('op_10001');
    expect(() => checkedId('actor id', '')).toThrow(AuditRefusedError);
    expect(looksLikeClearNumber('2026-01-05')).toBe(false);
  });

  it('masks client-controlled values instead of refusing them, so a client cannot break its own reads', () => {
    expect(clientValue('13812345678', 128)).toBe('138****5678');
    expect(clientValue('dev-abc', 128)).toBe('dev-abc');
    expect(clientValue(undefined, 128)).toBeNull();
    expect(clientValue('x'.repeat(200), 64)).toHaveLength(64);
  });

  it('takes dotted verbs only as actions', () => {
    for (const a of ['balance.read', 'card.loss_report', 'risk.freeze', 'otp.failed']) expect(checkedAction(a)).toBe(a);
    for (const a of ['balance', 'Balance.Read', 'balance.read;drop', '', 'a.b.c.d.e']) expect(() => checkedAction(a)).toThrow(AuditRefusedError);
  });

  it('knows the consent purposes', () => {
    expect(isConsentPurpose('financial_info')).toBe(true);
    expect(isConsentPurpose('everything')).toBe(false);
  });
});
