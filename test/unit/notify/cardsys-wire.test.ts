// The card system's MQTT wire format: the published SM4-CBC + HMAC-SM3 vector, topic binding, tampering, and strict message shapes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { WireError, open, parseMessage, parseTopic, seal, topicFilter, topicFor, type CardsysKey } from '../../../src/notify/cardsys/wire.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('notify/cardsys-wire');

// The test vector of MQTT.md (checked there with the openssl command line too).
const KEY: CardsysKey = { kid: 'k1', enc: Buffer.from('0123456789abcdeffedcba9876543210', 'hex'), mac: Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex') };
const TOPIC = 'cardsys/v1/hz-citizen-card/status';
const MESSAGE = { type: 'card.status', eventId: 'ev-0001', cardNumber: '6230910000000000006', status: 'lost', changedAt: '2026-03-02T10:00:00+08:00', seq: 7 };
const ENVELOPE =
  '{"v":1,"kid":"k1","iv":"ABEiM0RVZneImaq7zN3u/w==","ct":"bMoWBQqXvUNQJTQlOFQtBkYy3GDRcaMgkVYSpoGAbGwNwE0bNctOIWJy9kIcZGAcl86tk2v4qaNI+MXpQUdKrEpy85Evw4UVApNUuimKXP2v6JIYPyA4wB39S9mB52iDX4Np4L4ESUUZHVLRqpIXCHy1jvQQZOgvKh6BV2711cwezC0niw5xT2xMdDVX2dYw","mac":"W3I/oxisSFNmS3FJTbgdlLaxCxy0RoYUXcPFI5wLKhQ="}';
const keyFor = (k: CardsysKey) => (kid: string) => (kid === k.kid ? k : undefined);
const reason = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as WireError).reason;
  }
  return 'none';
};

describe('card-system envelope', () => {
  it('reproduces the published test vector byte for byte and opens it', () => {
    expect(seal(TOPIC, KEY, MESSAGE, Buffer.from('00112233445566778899aabbccddeeff', 'hex')).toString()).toBe(ENVELOPE);
    expect(open(TOPIC, Buffer.from(ENVELOPE), keyFor(KEY))).toEqual(MESSAGE);
  });

  it('opens what it seals for any JSON message, topic and key (property)', () => {
    check(
      seed,
      fc.property(fc.jsonValue(), fc.stringMatching(/^[a-z0-9]{2,10}$/), fc.uint8Array({ minLength: 16, maxLength: 16 }), (msg, tenant, enc) => {
        const key = { kid: 'kx', enc: Buffer.from(enc), mac: randomBytes(32) };
        const topic = topicFor('cardsys/v1', tenant, 'snapshot');
        expect(open(topic, seal(topic, key, msg), keyFor(key))).toEqual(JSON.parse(JSON.stringify(msg)));
      }),
      200,
    );
  });

  it('refuses a message moved to another topic, a flipped bit, an unknown key id, a wrong key and junk', () => {
    const sealed = seal(TOPIC, KEY, MESSAGE);
    expect(reason(() => open('cardsys/v1/other-tenant/status', sealed, keyFor(KEY)))).toBe('bad_mac');
    expect(reason(() => open('cardsys/v1/hz-citizen-card/snapshot', sealed, keyFor(KEY)))).toBe('bad_mac');
    const env = JSON.parse(sealed.toString());
    const flipped = Buffer.from(env.ct, 'base64');
    flipped[flipped.length - 1]! ^= 0x01;
    expect(reason(() => open(TOPIC, Buffer.from(JSON.stringify({ ...env, ct: flipped.toString('base64') })), keyFor(KEY)))).toBe('bad_mac');
    expect(reason(() => open(TOPIC, Buffer.from(JSON.stringify({ ...env, kid: 'k2' })), keyFor(KEY)))).toBe('unknown_key');
    expect(reason(() => open(TOPIC, sealed, keyFor({ ...KEY, mac: randomBytes(32) })))).toBe('bad_mac');
    expect(reason(() => open(TOPIC, Buffer.from('not json'), keyFor(KEY)))).toBe('not_envelope');
    expect(reason(() => open(TOPIC, Buffer.from(JSON.stringify({ ...env, v: 2 })), keyFor(KEY)))).toBe('not_envelope');
    expect(reason(() => open(TOPIC, Buffer.alloc(300 * 1024, 32), keyFor(KEY)))).toBe('too_large');
  });
});

describe('card-system topics', () => {
  it('names per-tenant topics under a root and a shared-subscription filter across tenants', () => {
    expect(topicFor('cardsys/v1', 'hz-citizen-card', 'status')).toBe('cardsys/v1/hz-citizen-card/status');
    expect(topicFilter('cardsys/v1', 'snapshot', 'wecard')).toBe('$share/wecard/cardsys/v1/+/snapshot');
    expect(parseTopic('cardsys/v1', 'cardsys/v1/hz-citizen-card/sync-request')).toEqual({ tenantId: 'hz-citizen-card', kind: 'sync-request' });
    for (const bad of ['cardsys/v1/hz/other', 'cardsys/v1/Hz/status', 'cardsys/v2/hz/status', 'cardsys/v1/hz/status/x']) {
      expect(reason(() => parseTopic('cardsys/v1', bad))).toBe('bad_topic');
    }
  });
});

describe('card-system messages', () => {
  it('reads a status event with its card number wrapped (masked in logs) and a sequence as bigint', () => {
    const e = parseMessage('status', MESSAGE);
    expect(e).toMatchObject({ type: 'card.status', eventId: 'ev-0001', status: 'lost', seq: 7n });
    expect(e.changedAt.toISOString()).toBe('2026-03-02T02:00:00.000Z');
    expect(`${e.cardNumber}`).toBe('623091*********0006');
    expect(e.cardNumber.reveal()).toBe('6230910000000000006');
    expect(parseMessage('status', { ...MESSAGE, seq: '9223372036854775807' }).seq).toBe(2n ** 63n - 1n);
  });

  it('refuses malformed messages field by field', () => {
    const bad = (kind: 'status' | 'snapshot' | 'sync-request', m: unknown) => reason(() => parseMessage(kind, m));
    expect(bad('status', { ...MESSAGE, type: 'card.snapshot' })).toBe('bad_shape');
    expect(bad('status', { ...MESSAGE, status: 'stolen' })).toBe('bad_shape');
    expect(bad('status', { ...MESSAGE, cardNumber: '1234' })).toBe('bad_shape');
    expect(bad('status', { ...MESSAGE, changedAt: '2026-03-02 10:00' })).toBe('bad_shape');
    expect(bad('status', { ...MESSAGE, seq: -1 })).toBe('bad_shape');
    expect(bad('status', { ...MESSAGE, seq: 1.5 })).toBe('bad_shape');
    expect(bad('status', { ...MESSAGE, seq: '9223372036854775808' })).toBe('bad_shape');
    expect(bad('status', { ...MESSAGE, eventId: 'x'.repeat(65) })).toBe('bad_shape');
    expect(bad('status', [MESSAGE])).toBe('bad_shape');
    const part = { type: 'card.snapshot', snapshotId: 's1', requestId: null, asOf: '2026-03-02T02:00:00Z', part: 1, parts: 1, cards: [] };
    expect(parseMessage('snapshot', part)).toMatchObject({ snapshotId: 's1', parts: 1, cards: [] });
    expect(bad('snapshot', { ...part, part: 2 })).toBe('bad_shape');
    expect(bad('snapshot', { ...part, parts: 0 })).toBe('bad_shape');
    expect(bad('snapshot', { ...part, cards: Array.from({ length: 501 }, () => MESSAGE) })).toBe('bad_shape');
    expect(bad('snapshot', { ...part, cards: [{ ...MESSAGE, status: 'x' }] })).toBe('bad_shape');
    expect(parseMessage('sync-request', { type: 'sync.request', requestId: 'r1', requestedAt: '2026-03-02T02:00:00Z' }).requestId).toBe('r1');
    expect(bad('sync-request', { type: 'sync.request', requestId: '', requestedAt: '2026-03-02T02:00:00Z' })).toBe('bad_shape');
  });
});
