// Field encryption: SM4/SM3 standard vectors, round trip, tamper detection, key rotation, blind indexes.
import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldCrypto, FieldCryptoError, fieldKeysFromHex, generateFieldKeys, type FieldKeys } from '../../../src/shared/crypto.ts';
import { CardNumber, Phone } from '../../../src/shared/sensitive.ts';
import { check, propertySeed } from './seed.ts';

const seed = propertySeed('crypto');

const K1 = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const K2 = Buffer.from('ffeeddccbbaa99887766554433221100', 'hex');
const BLIND = Buffer.alloc(32, 7);

function crypto(keys: Record<string, Buffer>, current: string, blindIndexKey = BLIND): FieldCrypto {
  return new FieldCrypto({ keys, current, blindIndexKey } satisfies FieldKeys);
}

function expectCryptoError(fn: () => unknown, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FieldCryptoError);
  if (message) expect((err as Error).message).toMatch(message);
}

describe('national algorithms in Node crypto', () => {
  it('SM4-ECB matches the GB/T 32907-2016 example', () => {
    const key = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');
    const cipher = createCipheriv('sm4-ecb', key, null).setAutoPadding(false);
    const ct = Buffer.concat([cipher.update(key), cipher.final()]);
    expect(ct.toString('hex')).toBe('681edf34d206965e86b3e94f536e4246');
  });

  it('SM3("abc") matches the GB/T 32905-2016 example', () => {
    expect(createHash('sm3').update('abc').digest('hex')).toBe('66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  });
});

describe('FieldCrypto', () => {
  it('round-trips any text, including empty, Chinese and long values (property)', () => {
    const fcx = crypto({ v1: K1 }, 'v1');
    check(
      seed,
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
        expect(fcx.decrypt(fcx.encrypt(text))).toBe(text);
      }),
      200,
    );
    expect(fcx.decrypt(fcx.encrypt(''))).toBe('');
    expect(fcx.decrypt(fcx.encrypt('欧阳娜娜'))).toBe('欧阳娜娜');
  });

  it('writes a versioned envelope with a fresh IV each time', () => {
    const fcx = crypto({ v1: K1 }, 'v1');
    const a = fcx.encrypt('6228480012345678903');
    const b = fcx.encrypt('6228480012345678903');
    expect(a).toMatch(/^sm4:v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('6228480012345678903');
    expect(fcx.versionOf(a)).toBe('v1');
  });

  it('encrypts a sensitive wrapper by its clear value, not its mask', () => {
    const fcx = crypto({ v1: K1 }, 'v1');
    const card = CardNumber.parse('6228480012345678903');
    expect(fcx.decrypt(fcx.encrypt(card))).toBe('6228480012345678903');
    expect(fcx.blindIndex('card', card)).toBe(fcx.blindIndex('card', '6228480012345678903'));
  });

  it('detects any change to IV, ciphertext, MAC or version', () => {
    const fcx = crypto({ v1: K1, v2: K2 }, 'v1');
    const env = fcx.encrypt('13912345678');
    const [p, v, iv, ct, mac] = env.split(':') as [string, string, string, string, string];
    const flip = (b64: string, i: number) => {
      const buf = Buffer.from(b64, 'base64');
      buf[i % buf.length]! ^= 0x01;
      return buf.toString('base64');
    };
    for (let i = 0; i < 16; i++) {
      expectCryptoError(() => fcx.decrypt([p, v, flip(iv, i), ct, mac].join(':')), /integrity/);
      expectCryptoError(() => fcx.decrypt([p, v, iv, flip(ct, i), mac].join(':')), /integrity/);
      expectCryptoError(() => fcx.decrypt([p, v, iv, ct, flip(mac, i)].join(':')), /integrity/);
    }
    // Same bytes presented as written under another key version.
    expectCryptoError(() => fcx.decrypt([p, 'v2', iv, ct, mac].join(':')), /integrity/);
    // Truncated MAC, truncated or extended ciphertext.
    expectCryptoError(() => fcx.decrypt([p, v, iv, ct, mac.slice(0, 8)].join(':')));
    expectCryptoError(() => fcx.decrypt([p, v, iv, Buffer.concat([Buffer.from(ct, 'base64'), Buffer.alloc(16)]).toString('base64'), mac].join(':')), /integrity/);
  });

  it('rejects malformed envelopes with a FieldCryptoError, whatever the input', () => {
    const fcx = crypto({ v1: K1 }, 'v1');
    const env = fcx.encrypt('x');
    const [p, v, iv, ct, mac] = env.split(':') as [string, string, string, string, string];
    for (const bad of ['', 'plain text', 'sm4:v1', `aes:${v}:${iv}:${ct}:${mac}`, `${p}:v9:${iv}:${ct}:${mac}`,
      `${p}:constructor:${iv}:${ct}:${mac}`, `${p}:__proto__:${iv}:${ct}:${mac}`, `${p}:toString:${iv}:${ct}:${mac}`,
      `${p}:${v}:${iv}!!:${ct}:${mac}`, `${p}:${v}:AAAA:${ct}:${mac}`, `${p}:${v}:${iv}::${mac}`, `${env}:extra`]) {
      expectCryptoError(() => fcx.decrypt(bad));
    }
    expectCryptoError(() => fcx.decrypt(null as unknown as string));
    check(
      seed,
      fc.property(fc.string(), (s) => {
        expectCryptoError(() => fcx.decrypt(s));
      }),
      200,
    );
  });

  it('fails to decrypt with the wrong key under the same version', () => {
    const writer = crypto({ v1: K1 }, 'v1');
    const reader = crypto({ v1: K2 }, 'v1');
    expectCryptoError(() => reader.decrypt(writer.encrypt('11010519491231002X')), /integrity/);
  });

  it('rotates keys: old envelopes stay readable and reencrypt moves them to the current key', () => {
    const before = crypto({ v1: K1 }, 'v1');
    const old = before.encrypt('110101199003077758');
    const after = crypto({ v1: K1, v2: K2 }, 'v2');
    expect(after.decrypt(old)).toBe('110101199003077758');
    const moved = after.reencrypt(old);
    expect(after.versionOf(moved)).toBe('v2');
    expect(after.decrypt(moved)).toBe('110101199003077758');
    // Already current: unchanged. Once v1 is retired, only re-encrypted rows remain readable.
    expect(after.reencrypt(moved)).toBe(moved);
    const retired = crypto({ v2: K2 }, 'v2');
    expect(retired.decrypt(moved)).toBe('110101199003077758');
    expectCryptoError(() => retired.decrypt(old), /no key for version v1/);
  });

  it('refuses bad key material and a current version without a key', () => {
    expectCryptoError(() => crypto({ v1: Buffer.alloc(15) }, 'v1'), /16 bytes/);
    expectCryptoError(() => crypto({ v1: K1 }, 'v2'), /has no key/);
    expectCryptoError(() => crypto({ v1: K1 }, 'toString'), /has no key/);
    expectCryptoError(() => crypto({ 'v:1': K1 }, 'v:1'), /bad key version/);
    expectCryptoError(() => crypto({ v1: K1 }, 'v1', Buffer.alloc(31)), /at least 32 bytes/);
  });

  it('loads keys from hex and generates fresh ones that work', () => {
    const g = generateFieldKeys();
    const fcx = new FieldCrypto(fieldKeysFromHex(g.fieldKeys, g.current, g.blindIndexKey));
    expect(fcx.decrypt(fcx.encrypt('ok'))).toBe('ok');
    expect(generateFieldKeys().blindIndexKey).not.toBe(g.blindIndexKey);
  });
});

describe('blind index', () => {
  it('is a stable HMAC-SM3 of domain NUL value, independent of the SM4 key', () => {
    const a = crypto({ v1: K1 }, 'v1');
    const b = crypto({ v1: K2, v2: K1 }, 'v2');
    const idx = a.blindIndex('card', '6228480012345678903');
    expect(idx).toMatch(/^[0-9a-f]{64}$/);
    expect(a.blindIndex('card', '6228480012345678903')).toBe(idx);
    expect(b.blindIndex('card', '6228480012345678903')).toBe(idx);
    expect(idx).toBe(createHmac('sm3', BLIND).update('card\u00006228480012345678903').digest('hex'));
  });

  it('separates domains: the same value indexes differently as card, phone or ID', () => {
    const a = crypto({ v1: K1 }, 'v1');
    const v = '13912345678';
    const set = new Set(['card', 'phone', 'id', 'id.resident', 'tenant:t1:phone'].map((d) => a.blindIndex(d, v)));
    expect(set.size).toBe(5);
    expect(a.blindIndex('phone', Phone.parse('+86 139 1234 5678'))).toBe(a.blindIndex('phone', v));
  });

  it('refuses domains that could blur the domain/value boundary', () => {
    const a = crypto({ v1: K1 }, 'v1');
    for (const bad of ['', 'a\u0000b', 'card phone', 'x'.repeat(65), '-card']) expectCryptoError(() => a.blindIndex(bad, 'v'));
  });

  it('differs under another blind-index key', () => {
    const a = crypto({ v1: K1 }, 'v1');
    const b = crypto({ v1: K1 }, 'v1', randomBytes(32));
    expect(a.blindIndex('card', '6228480012345678903')).not.toBe(b.blindIndex('card', '6228480012345678903'));
  });
});
