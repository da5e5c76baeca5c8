// Mini-program encrypted user data (encryptedData + iv) opened with the session key: AES-128-CBC, PKCS#7, watermark checked (WECHAT.md §3).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { AppError } from '../../app/errors.ts';

/** A user-info or phone payload is well under 1 KiB; anything past this is not WeChat's. */
export const ENCRYPTED_DATA_MAX_CHARS = 16 * 1024;
const AES_BLOCK_BYTES = 16;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decode(value: unknown, field: string, bytes?: number): Buffer {
  if (typeof value !== 'string' || value.length === 0 || value.length > ENCRYPTED_DATA_MAX_CHARS || !STRICT_BASE64.test(value)) {
    throw AppError.validation([{ field, message: 'must be base64' }]);
  }
  const buf = Buffer.from(value, 'base64');
  if (bytes !== undefined && buf.length !== bytes) throw AppError.validation([{ field, message: `must decode to ${bytes} bytes` }]);
  return buf;
}

/**
 * Decrypts `encryptedData` with the user's session key and checks that `watermark.appid` is ours.
 * A padding or JSON failure means the session key is stale (wx.login was called again after the
 * data was produced, WECHAT-VECTORS.md §6 #8): `unauthenticated`, so the client logs in again.
 */
export function decryptUserData(appId: string, sessionKey: string, encryptedData: string, iv: string): unknown {
  const data = decode(encryptedData, 'encryptedData');
  const ivBytes = decode(iv, 'iv', AES_BLOCK_BYTES);
  if (data.length === 0 || data.length % AES_BLOCK_BYTES !== 0) throw AppError.validation([{ field: 'encryptedData', message: 'is not whole AES blocks' }]);
  let key: Buffer;
  try {
    key = decode(sessionKey, 'sessionKey', AES_BLOCK_BYTES);
  } catch {
    throw new AppError('unauthenticated', 'the WeChat session is not usable: log in again (wx.login)');
  }
  let parsed: unknown;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, ivBytes);
    const plain = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    parsed = JSON.parse(plain);
  } catch {
    throw new AppError('unauthenticated', 'the encrypted data does not match the WeChat session: log in again (wx.login)');
  }
  const watermark = (parsed as { watermark?: { appid?: unknown } } | null)?.watermark;
  if (parsed === null || typeof parsed !== 'object' || watermark?.appid !== appId) {
    throw new AppError('forbidden', 'the encrypted data was not made for this app');
  }
  return parsed;
}

/** The other side (the sandbox plays WeChat): AES-128-CBC with PKCS#7, base64 out. */
export function encryptUserData(sessionKey: string, iv: Buffer, payload: unknown): string {
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  return Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]).toString('base64');
}
