// AEAD_AES_256_GCM of Pay resources: the published vectors N1–N4 of WECHAT-VECTORS.md §4.4 and interop both ways with wechatpay-axios-plugin's AesGcm.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aes } from 'wechatpay-axios-plugin';
import { AeadError, decryptResource, encryptResource, gcmDecrypt, gcmEncrypt } from '../../../../src/wechat/pay/aead.ts';
import { check, propertySeed } from '../../shared/seed.ts';

const seed = propertySeed('pay-aead');
const b = (s: string) => Buffer.from(s, 'utf8');

describe('published vectors', () => {
  it('N1 (wechatpay-java): decrypts "message" with a 32-byte key and 12-byte nonce', () => {
    const resource = { algorithm: 'AEAD_AES_256_GCM', ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=', nonce: 'uluk4a9R25RW', associated_data: 'associatedData' };
    expect(decryptResource('a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', resource)).toBe('message');
  });

  it('N2 (wechatpay-go): decrypts the payscore notification resource with its 16-byte key as AES-128-GCM', () => {
    const ciphertext =
      'YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==';
    expect(gcmDecrypt(b('testMchAPIv3Key0'), b('Kj7QIyUiYx1q'), b('payscore'), ciphertext).toString()).toBe(
      '{"mchid":"1234567890","appid":"054aa7d7a2a54ab5898df65bd96f001c","create_time":"2020-06-30T12:12:00+08:00","out_contract_code":"21640bdbd08e473e828f3206a2741c6e"}',
    );
  });

  it('N2: the resource decryption proper refuses that 16-byte APIv3 key, as WeChat keys are 32 bytes', () => {
    expect(() => decryptResource('testMchAPIv3Key0', { algorithm: 'AEAD_AES_256_GCM', ciphertext: 'AAAA', nonce: 'Kj7QIyUiYx1q', associated_data: 'payscore' })).toThrow(AeadError);
  });

  it('N3 (wechatpay-go utils): decrypts "Hello World"', () => {
    expect(gcmDecrypt(b('testAPIv3Key0000'), b('wCq51qZv4Yfg'), b('Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8'), 'FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC').toString()).toBe('Hello World');
  });

  it('N4 (wechatpay-axios-plugin): encrypts "hello" with a 16-byte iv to the published text and back', () => {
    const key = b('0123456789abcdef0123456789abcdef');
    expect(gcmEncrypt(key, b('0123456789abcdef'), b('world'), b('hello'))).toBe('APoZlYpivU3HjbAiB4CvW1rAFr8J');
    expect(gcmDecrypt(key, b('0123456789abcdef'), b('world'), 'APoZlYpivU3HjbAiB4CvW1rAFr8J').toString()).toBe('hello');
  });
});

describe('interop with wechatpay-axios-plugin AesGcm', () => {
  const key = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'), minLength: 32, maxLength: 32 });
  const nonce = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'), minLength: 12, maxLength: 12 });
  const aad = fc.constantFrom('', 'transaction', 'refund', 'certificate');
  const text = fc.string({ unit: 'grapheme', maxLength: 500 });

  it('wecard encrypts, the library decrypts; the library encrypts, wecard decrypts', () => {
    check(
      seed,
      fc.property(key, nonce, aad, text, (k, n, a, t) => {
        const ours = encryptResource(k, t, { associatedData: a, originalType: a || 'transaction', nonce: n });
        expect(Aes.AesGcm.decrypt(ours.ciphertext, k, n, a)).toBe(t);
        const theirs = Aes.AesGcm.encrypt(t, k, n, a);
        expect(theirs).toBe(ours.ciphertext);
        expect(decryptResource(k, { algorithm: 'AEAD_AES_256_GCM', ciphertext: theirs, nonce: n, associated_data: a })).toBe(t);
      }),
      200,
    );
  });
});

describe('tampering', () => {
  const key = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
  const r = encryptResource(key, '{"out_trade_no":"T1","amount":{"total":100}}', { associatedData: 'transaction', originalType: 'transaction', nonce: 'uluk4a9R25RW' });

  it('refuses a flipped ciphertext bit, another aad, another nonce, another key, a short or non-base64 text', () => {
    const flipped = Buffer.from(r.ciphertext, 'base64');
    flipped[3] = flipped[3]! ^ 1;
    const cases = [
      { ...r, ciphertext: flipped.toString('base64') },
      { ...r, associated_data: 'refund' },
      { ...r, nonce: 'uluk4a9R25RX' },
      { ...r, ciphertext: 'AAAA' },
      { ...r, ciphertext: '%%%%' },
      { ...r, nonce: 'short' },
      { ...r, algorithm: 'AEAD_AES_128_GCM' },
    ];
    for (const c of cases) expect(() => decryptResource(key, c)).toThrow(AeadError);
    expect(() => decryptResource('b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', r)).toThrow(AeadError);
    expect(decryptResource(key, r)).toBe('{"out_trade_no":"T1","amount":{"total":100}}');
  });
});
