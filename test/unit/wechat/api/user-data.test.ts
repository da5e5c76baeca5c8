// Mini-program encrypted user data: the official demo vector, interop with wechatpay-axios-plugin's AES-128-CBC, and the failure codes.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Aes } from 'wechatpay-axios-plugin';
import { decryptUserData, encryptUserData } from '../../../../src/wechat/api/user-data.ts';
import { AppError } from '../../../../src/app/errors.ts';
import { check, propertySeed } from '../../shared/seed.ts';

const seed = propertySeed('user-data');

/** WECHAT-VECTORS.md §3.2: the official WXBizDataCrypt demo (VERIFIED). */
const DEMO = {
  appId: 'wx4f4bc4dec97d474b',
  sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==',
  iv: 'r7BXXKkLb8qrSNn05n0qiA==',
  encryptedData:
    'CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==',
  plaintext:
    '{"openId":"oGZUI0egBJY1zhBYw2KhdUfwVJJE","nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0","unionId":"ocMvos6NjeKLIBqg5Mr9QjxrP1FA","watermark":{"timestamp":1477314187,"appid":"wx4f4bc4dec97d474b"}}',
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : `not an AppError: ${String(e)}`;
  }
  return undefined;
}

describe('decryptUserData', () => {
  it('opens the official demo vector to the published plaintext', () => {
    expect(decryptUserData(DEMO.appId, DEMO.sessionKey, DEMO.encryptedData, DEMO.iv)).toEqual(JSON.parse(DEMO.plaintext));
  });

  it('refuses data whose watermark names another app with forbidden', () => {
    expect(codeOf(() => decryptUserData('wx0000000000000000', DEMO.sessionKey, DEMO.encryptedData, DEMO.iv))).toBe('forbidden');
  });

  it('answers unauthenticated (log in again) when the session key is stale', () => {
    const otherKey = randomBytes(16).toString('base64');
    expect(codeOf(() => decryptUserData(DEMO.appId, otherKey, DEMO.encryptedData, DEMO.iv))).toBe('unauthenticated');
  });

  it('answers unauthenticated when the iv is not the one the data was made with', () => {
    expect(codeOf(() => decryptUserData(DEMO.appId, DEMO.sessionKey, DEMO.encryptedData, randomBytes(16).toString('base64')))).toBe('unauthenticated');
  });

  it('refuses malformed base64, a short iv and partial blocks with validation_failed', () => {
    expect(codeOf(() => decryptUserData(DEMO.appId, DEMO.sessionKey, 'not base64!', DEMO.iv))).toBe('validation_failed');
    expect(codeOf(() => decryptUserData(DEMO.appId, DEMO.sessionKey, DEMO.encryptedData, 'AAAA'))).toBe('validation_failed');
    expect(codeOf(() => decryptUserData(DEMO.appId, DEMO.sessionKey, DEMO.encryptedData.slice(0, 20), DEMO.iv))).toBe('validation_failed');
    expect(codeOf(() => decryptUserData(DEMO.appId, DEMO.sessionKey, 'A'.repeat(40_000), DEMO.iv))).toBe('validation_failed');
  });

  it('refuses a malformed session key as a stale session', () => {
    expect(codeOf(() => decryptUserData(DEMO.appId, 'short', DEMO.encryptedData, DEMO.iv))).toBe('unauthenticated');
  });

  it('agrees both ways with wechatpay-axios-plugin AES-128-CBC for any payload', () => {
    check(
      seed,
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.string({ maxLength: 200 }), (k, v, s) => {
        const key = Buffer.from(k);
        const iv = Buffer.from(v);
        const payload = { text: s, watermark: { appid: DEMO.appId, timestamp: 1 } };
        const ours = encryptUserData(key.toString('base64'), iv, payload);
        expect(Aes.AesCbc.decrypt(ours, key, iv)).toBe(JSON.stringify(payload));
        const theirs = Aes.AesCbc.encrypt(JSON.stringify(payload), key, iv) as string;
        expect(decryptUserData(DEMO.appId, key.toString('base64'), theirs, iv.toString('base64'))).toEqual(payload);
      }),
      200,
    );
  });
});
