// Pay v3 request signing, Authorization, paySign: the published vectors of WECHAT-VECTORS.md §4.2/§4.7, and interop both ways with wechatpay-axios-plugin.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Formatter, Rsa } from 'wechatpay-axios-plugin';
import {
  authorizationHeader,
  parseAuthorization,
  requestMessage,
  requestPaymentParams,
  responseMessage,
  signMessage,
  verifyMessage,
} from '../../../../src/wechat/pay/signing.ts';
import { check, propertySeed } from '../../shared/seed.ts';
import { TEST_MERCHANT_KEY_PEM } from './fixtures/keys.ts';

const seed = propertySeed('pay-signing');
const merchantKey = createPrivateKey(TEST_MERCHANT_KEY_PEM);
const merchantPublic = createPublicKey(merchantKey);

const V42_MESSAGE = 'GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n';
const V42_SIGNATURE =
  'u8uM2mC0zsTcBldpNkf9eIRFnxwxl9OBzFzrBp9C+ygDbqKfjfbr9GTZrvPw3wqpfhn7npKzSVHf4lbD9T3RZpwq8yGBJAtW3YNoB4WR6ieFAp9fNX8LbRTfcbqOrcX/JuG9bZ1cvlQr9BljgM474p2L6MAtULc1za3tCXI/SkssirhLqE9VH4LXClbussMImgsg0zUFHIWl8RIWkEfhKjDUNgZLyGnT+arHLJKf/2csGKE6fS0t0ofTbSwcaVgNbK3UySD7iORerwwdcYlGIVn1zKgIbLl3GM518roWPd59nNct0D3SXESsbpeyzuWT7kx9DPfp0f0UHJWdMKYCZw==';
const V47_PAYSIGN =
  'NeyXkZ3I0k4j3ir2SbGEmZUkhwGDE+xWHlnKqg9rQGk0nDHiAzldbzRvthsov+j4Q2QuvYi9jrXEqahXUZzK59ctJgpITWZeFW+ZU8r4GqM4LyFXmwW9vb2I/2T+OEAyLMGzxAifRPDTEqjDEQ6yNt8YfMSkJjkHPx3fBab6U9Ij/s9GeQAOlVrBQOmd7tIIR46jLDNT4fnzHB53m27yqFr6tY3+sQF7a917JpDPSULy/C0MCZG5MKm5AB3ybLVXHv1joYx5AgnJzLoAAnpiAH1Tp1HnLqhjKpMostyPPbmH+NgASPoDkMbu8kDBDbRTIaUhIYRp6f1u3JFn2wCm3A==';

describe('request signing (§4.2)', () => {
  it('builds the official worked example message byte for byte', () => {
    expect(requestMessage('GET', '/v3/certificates', '1554208460', '593BEC0C930BF1AFEB40B4A08C8FB242').toString()).toBe(V42_MESSAGE);
  });

  it('signs the worked example with the published test key to the computed vector', () => {
    expect(signMessage(merchantKey, requestMessage('GET', '/v3/certificates', '1554208460', '593BEC0C930BF1AFEB40B4A08C8FB242'))).toBe(V42_SIGNATURE);
  });

  it('writes the Authorization header with the five pairs, and reads it back in any order', () => {
    const fields = { mchid: '1900009191', serial_no: '898DBAD30F416EC7', timestamp: '1554208460', nonce_str: '593BEC0C930BF1AFEB40B4A08C8FB242', signature: V42_SIGNATURE };
    const ours = authorizationHeader(fields);
    expect(ours.startsWith('WECHATPAY2-SHA256-RSA2048 mchid="1900009191",')).toBe(true);
    expect(parseAuthorization(ours)).toEqual(fields);
    // The library's pair order (the vector's "axios-plugin order") parses to the same fields.
    const theirs = Formatter.authorization('1900009191', '593BEC0C930BF1AFEB40B4A08C8FB242', V42_SIGNATURE, '1554208460', '898DBAD30F416EC7');
    expect(theirs).toBe(`WECHATPAY2-SHA256-RSA2048 mchid="1900009191",serial_no="898DBAD30F416EC7",timestamp="1554208460",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="${V42_SIGNATURE}"`);
    expect(parseAuthorization(theirs)).toEqual(fields);
  });

  it('refuses an Authorization with another scheme, a missing, repeated or unknown pair', () => {
    const ok = 'mchid="1",serial_no="AB",timestamp="1",nonce_str="n",signature="s"';
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${ok}`)).toBeDefined();
    expect(parseAuthorization(`Bearer ${ok}`)).toBeUndefined();
    expect(parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid="1",serial_no="AB",timestamp="1",nonce_str="n"')).toBeUndefined();
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${ok},mchid="2"`)).toBeUndefined();
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${ok},extra="x"`)).toBeUndefined();
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${ok.replace('"1",', '1,')}`)).toBeUndefined();
    expect(parseAuthorization(undefined)).toBeUndefined();
    expect(parseAuthorization(`WECHATPAY2-SHA256-RSA2048 ${'x'.repeat(5000)}`)).toBeUndefined();
  });
});

describe('wx.requestPayment parameters (§4.7)', () => {
  it('computes the published paySign for the vector inputs', () => {
    const p = requestPaymentParams({
      appId: 'wx8888888888888888',
      prepayId: 'wx201410272009395522657a690389285100',
      timeStamp: '1554208460',
      nonceStr: '593BEC0C930BF1AFEB40B4A08C8FB242',
      merchantKey,
    });
    expect(p).toEqual({
      appId: 'wx8888888888888888',
      timeStamp: '1554208460',
      nonceStr: '593BEC0C930BF1AFEB40B4A08C8FB242',
      package: 'prepay_id=wx201410272009395522657a690389285100',
      signType: 'RSA',
      paySign: V47_PAYSIGN,
    });
    // The library, from the four lines, agrees.
    expect(Rsa.sign(Formatter.joinedByLineFeed(p.appId, p.timeStamp, p.nonceStr, p.package), merchantKey)).toBe(V47_PAYSIGN);
  });
});

describe('interop with wechatpay-axios-plugin', () => {
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const text = fc.string({ unit: 'grapheme', maxLength: 200 });
  const nonceArb = (min: number) => fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFabcdef'), minLength: min, maxLength: 32 });

  it('wecard signs requests, the library verifies; the library signs, wecard verifies', () => {
    check(
      seed,
      fc.property(fc.constantFrom('GET', 'POST'), fc.webPath(), fc.integer({ min: 1e9, max: 2e9 }), nonceArb(32), text, (method, path, ts, nonce, body) => {
        const msg = requestMessage(method, path, String(ts), nonce, body);
        expect(msg.toString()).toBe(Formatter.request(method, path, ts, nonce, body));
        expect(Rsa.verify(msg.toString(), signMessage(merchantKey, msg), merchantPublic)).toBe(true);
        expect(verifyMessage(merchantPublic, msg, Rsa.sign(msg.toString(), merchantKey))).toBe(true);
      }),
      30,
    );
  });

  it('builds response messages as the library does, and verifies its response signatures', () => {
    check(
      seed,
      fc.property(fc.integer({ min: 1e9, max: 2e9 }), nonceArb(1), text, (ts, nonce, body) => {
        const msg = responseMessage(String(ts), nonce, body);
        expect(msg.toString()).toBe(Formatter.response(ts, nonce, body));
        const sig = Rsa.sign(msg.toString(), other.privateKey);
        expect(verifyMessage(other.publicKey, msg, sig)).toBe(true);
        expect(Rsa.verify(msg.toString(), signMessage(other.privateKey, msg), other.publicKey)).toBe(true);
      }),
      30,
    );
  });
});

describe('verification refuses cleanly', () => {
  const msg = responseMessage('1554208460', 'abc', '{"a":1}');
  const sig = signMessage(merchantKey, msg);

  it('accepts the right signature and refuses a changed body, another key, probes and garbage without throwing', () => {
    expect(verifyMessage(merchantPublic, msg, sig)).toBe(true);
    expect(verifyMessage(merchantPublic, responseMessage('1554208460', 'abc', '{"a":2}'), sig)).toBe(false);
    expect(verifyMessage(createPublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), msg, sig)).toBe(false);
    expect(verifyMessage(merchantPublic, msg, `WECHATPAY/SIGNTEST/${sig}`)).toBe(false);
    expect(verifyMessage(merchantPublic, msg, 'not base64 !!')).toBe(false);
    expect(verifyMessage(merchantPublic, msg, '')).toBe(false);
    expect(verifyMessage(merchantPublic, msg, 'A'.repeat(5000))).toBe(false);
  });

  it('a 204 answer is signed over an empty last line', () => {
    expect(responseMessage('1', 'n').toString()).toBe('1\nn\n\n');
  });
});
