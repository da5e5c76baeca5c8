// Platform keys by serial and notification signature checks: the signed notification N2 of WECHAT-VECTORS.md §4.4 (certificate mode), the replay window, rotation.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Aes } from 'wechatpay-axios-plugin';
import { certificatesFromAnswer } from '../../../../src/wechat/pay/certificates.ts';
import { platformSignatureProblem } from '../../../../src/wechat/pay/http.ts';
import { PlatformKeySet, platformKeyFromPem } from '../../../../src/wechat/pay/keys.ts';
import { responseMessage, signMessage } from '../../../../src/wechat/pay/signing.ts';
import { N2_PLATFORM_CERT_PEM } from './fixtures/keys.ts';

const N2 = {
  timestamp: '1624523846',
  nonce: 'EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz',
  serial: 'D7CE59D1F522D701',
  signature:
    'tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==',
};
const N2_BODY = Buffer.from(
  '{"id":"3119dfba-e649-5eec-ab1e-3412bc4d2e17","create_time":"2021-06-24T16:37:26+08:00","resource_type":"encrypt-resource","event_type":"PAYSCORE.USER_OPEN_SERVICE","summary":"签约成功","resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM","ciphertext":"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==","associated_data":"payscore","nonce":"Kj7QIyUiYx1q"}}',
  'utf8',
);
const AT_N2 = new Date(1624523846 * 1000);

describe('the signed notification N2 with its platform certificate', () => {
  const cert = platformKeyFromPem(N2_PLATFORM_CERT_PEM);
  const keys = new PlatformKeySet([cert]);

  it('reads the certificate serial D7CE59D1F522D701 and its validity', () => {
    expect(cert.serialNo).toBe('D7CE59D1F522D701');
    expect(cert.kind).toBe('certificate');
    expect(cert.notAfter!.getUTCFullYear()).toBe(2031);
  });

  it('verifies over the exact body bytes at the notification time', () => {
    expect(platformSignatureProblem(keys, N2, N2_BODY, AT_N2)).toBeUndefined();
    // A lower-case serial names the same certificate.
    expect(platformSignatureProblem(keys, { ...N2, serial: N2.serial.toLowerCase() }, N2_BODY, AT_N2)).toBeUndefined();
  });

  it('refuses the same bytes re-serialised, a changed byte, an unknown serial, a probe', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(N2_BODY.toString('utf8')), null, 1));
    expect(platformSignatureProblem(keys, N2, reserialised, AT_N2)).toMatch(/does not verify/);
    const changed = Buffer.from(N2_BODY);
    changed[10] = changed[10]! ^ 1;
    expect(platformSignatureProblem(keys, N2, changed, AT_N2)).toMatch(/does not verify/);
    expect(platformSignatureProblem(keys, { ...N2, serial: 'D7CE59D1F522D702' }, N2_BODY, AT_N2)).toMatch(/no platform key/);
    expect(platformSignatureProblem(keys, { ...N2, signature: `WECHATPAY/SIGNTEST/${N2.signature}` }, N2_BODY, AT_N2)).toMatch(/does not verify/);
  });

  it('refuses it as a replay more than 5 minutes either side of the notification time, and accepts it at exactly 5 minutes', () => {
    expect(platformSignatureProblem(keys, N2, N2_BODY, new Date(AT_N2.getTime() + 300_000))).toBeUndefined();
    expect(platformSignatureProblem(keys, N2, N2_BODY, new Date(AT_N2.getTime() - 300_000))).toBeUndefined();
    expect(platformSignatureProblem(keys, N2, N2_BODY, new Date(AT_N2.getTime() + 301_000))).toMatch(/5 minutes/);
    expect(platformSignatureProblem(keys, N2, N2_BODY, new Date(AT_N2.getTime() - 301_000))).toMatch(/5 minutes/);
  });

  it('refuses missing headers and a certificate outside its validity', () => {
    expect(platformSignatureProblem(keys, { ...N2, signature: undefined }, N2_BODY, AT_N2)).toMatch(/missing/);
    expect(keys.get(N2.serial, new Date('2032-01-01T00:00:00Z'))).toBeUndefined();
    expect(keys.get(N2.serial, new Date('2020-01-01T00:00:00Z'))).toBeUndefined();
  });
});

describe('public-key mode and rotation by serial', () => {
  const pem = (k: ReturnType<typeof generateKeyPairSync>) => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const oldPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const newPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const OLD = 'PUB_KEY_ID_0114232134912410000000000000';
  const NEW = 'PUB_KEY_ID_0114232134912410000000000001';
  const now = new Date('2026-01-05T02:00:00Z');
  const ts = String(Math.floor(now.getTime() / 1000));
  const body = Buffer.from('{"ok":true}');
  const signed = (pair: typeof oldPair, serial: string) => ({ timestamp: ts, nonce: 'n1', serial, signature: signMessage(pair.privateKey, responseMessage(ts, 'n1', body)) });

  it('verifies with whichever key the serial names while both are held, and only those', () => {
    const both = new PlatformKeySet([platformKeyFromPem(pem(oldPair), OLD), platformKeyFromPem(pem(newPair), NEW)]);
    expect(platformSignatureProblem(both, signed(oldPair, OLD), body, now)).toBeUndefined();
    expect(platformSignatureProblem(both, signed(newPair, NEW), body, now)).toBeUndefined();
    // A message signed with the new key but naming the old serial is refused.
    expect(platformSignatureProblem(both, signed(newPair, OLD), body, now)).toMatch(/does not verify/);
    const oldOnly = new PlatformKeySet([platformKeyFromPem(pem(oldPair), OLD)]);
    expect(platformSignatureProblem(oldOnly, signed(newPair, NEW), body, now)).toMatch(/no platform key/);
  });

  it('refuses a public key without its id, a mismatched certificate serial, and non-key text', () => {
    expect(() => platformKeyFromPem(pem(oldPair))).toThrow(/id/);
    expect(() => platformKeyFromPem(N2_PLATFORM_CERT_PEM, 'ABCDEF0123456789')).toThrow(/serial/);
    expect(() => platformKeyFromPem('-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----', OLD)).toThrow();
    expect(() => platformKeyFromPem('hello', OLD)).toThrow();
  });
});

describe('downloaded platform certificates (old mode)', () => {
  const apiV3Key = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';
  const entry = (serial: string, pem = N2_PLATFORM_CERT_PEM) => ({
    serial_no: serial,
    effective_time: '2021-04-27T16:55:23+08:00',
    expire_time: '2031-04-25T16:55:23+08:00',
    encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', nonce: 'Kj7QIyUiYx1q', associated_data: 'certificate', ciphertext: Aes.AesGcm.encrypt(pem, apiV3Key, 'Kj7QIyUiYx1q', 'certificate') },
  });

  it('decrypts a certificate the library encrypted and keys it by its own serial', () => {
    const [c] = certificatesFromAnswer(apiV3Key, { data: [entry('D7CE59D1F522D701')] });
    expect(c!.key.serialNo).toBe('D7CE59D1F522D701');
    expect(c!.pem).toBe(N2_PLATFORM_CERT_PEM);
    expect(platformSignatureProblem(new PlatformKeySet([c!.key]), N2, N2_BODY, AT_N2)).toBeUndefined();
  });

  it('refuses a serial that is not the certificate’s, another APIv3 key, and a malformed answer', () => {
    expect(() => certificatesFromAnswer(apiV3Key, { data: [entry('0123456789ABCDEF')] })).toThrow(/serial/);
    expect(() => certificatesFromAnswer('b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb', { data: [entry('D7CE59D1F522D701')] })).toThrow(/decrypt/);
    expect(() => certificatesFromAnswer(apiV3Key, { data: 'x' })).toThrow();
    expect(() => certificatesFromAnswer(apiV3Key, { data: [{ serial_no: 'D7CE59D1F522D701' }] })).toThrow();
  });
});
