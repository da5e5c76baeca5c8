// Generates a demo tenant's sandbox WeChat credentials: random (node:crypto), created once and then kept.
import { generateKeyPair, randomBytes, randomInt } from 'node:crypto';
import type { OaCredentials, TenantCredentials } from '../../tenants/index.ts';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** WeChat Pay merchant and platform keys are RSA-2048 (WECHAT.md §4). */
const RSA_BITS = 2048;

function alnum(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

function rsaPair(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      'rsa',
      { modulusLength: RSA_BITS, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, publicKeyPem, privateKeyPem) => (err ? reject(err) : resolve({ privateKeyPem, publicKeyPem })),
    ),
  );
}

/**
 * A full set: Official Account (in `oaMode`), mini-program, Pay v3 with merchant and platform key
 * pairs (the platform's private key too, since the sandbox plays the platform) and WeCom.
 */
export async function generateSandboxCredentials(oaMode: OaCredentials['mode']): Promise<TenantCredentials> {
  const [merchant, platform] = await Promise.all([rsaPair(), rsaPair()]);
  return {
    oa: {
      appId: `wx${hex(8)}`,
      appSecret: hex(16),
      token: alnum(32),
      // 43 characters: base64 of 32 bytes without its "=" (WECHAT.md §1).
      encodingAESKey: alnum(43),
      mode: oaMode,
      originalId: `gh_${hex(6)}`,
    },
    miniProgram: { appId: `wx${hex(8)}`, appSecret: hex(16) },
    pay: {
      mchId: `19${digits(8)}`,
      apiV3Key: alnum(32),
      merchantSerialNo: hex(20).toUpperCase(),
      merchantPrivateKeyPem: merchant.privateKeyPem,
      // The newer "platform public key" mode: the serial is a key id, not a certificate serial.
      platformSerialNo: `PUB_KEY_ID_01${digits(26)}`,
      platformPublicKeyPem: platform.publicKeyPem,
      platformPrivateKeyPem: platform.privateKeyPem,
    },
    wecom: { corpId: `ww${hex(8)}`, token: alnum(32), encodingAESKey: alnum(43), secret: alnum(43) },
  };
}
