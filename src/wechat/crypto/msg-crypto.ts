// Safe-mode (AES) message crypto and SHA1 signatures shared by the Official Account and WeCom callbacks (WECHAT.md §1, §5).
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../app/errors.ts';

/** WeChat pads to a multiple of 32 bytes, not AES's 16 (WECHAT.md §1, "pitfalls"). */
const PAD_BLOCK = 32;
const RANDOM_PREFIX_BYTES = 16;
const LENGTH_BYTES = 4;
/** Upper bound on an encrypted envelope we accept (base64 characters): a WeChat message is at most a few KB. */
export const MAX_ENCRYPTED_CHARS = 1_000_000;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8: invalid bytes are refused, not replaced. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new AppError('validation_failed', `${what} is not valid UTF-8`);
  }
}

/** `hex(sha1(join(sort(parts))))`: the URL signature (3 parts) and msg_signature (4 parts). */
export function sha1Signature(...parts: string[]): string {
  return createHash('sha1').update([...parts].sort().join('')).digest('hex');
}

/** OA URL verification signature over token, timestamp and nonce. */
export function urlSignature(token: string, timestamp: string, nonce: string): string {
  return sha1Signature(token, timestamp, nonce);
}

/** Constant-time comparison of two hex signatures (a length mismatch is simply false). */
export function signatureMatches(expected: string, given: string | undefined): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given.toLowerCase()));
}

function pkcs7Pad(buf: Buffer): Buffer {
  const n = PAD_BLOCK - (buf.length % PAD_BLOCK);
  return Buffer.concat([buf, Buffer.alloc(n, n)]);
}

function pkcs7Unpad(buf: Buffer): Buffer {
  const n = buf[buf.length - 1] ?? 0;
  if (n < 1 || n > PAD_BLOCK || n > buf.length) throw new AppError('validation_failed', 'encrypted message has bad padding');
  for (let i = buf.length - n; i < buf.length; i++) {
    if (buf[i] !== n) throw new AppError('validation_failed', 'encrypted message has bad padding');
  }
  return buf.subarray(0, buf.length - n);
}

/**
 * One app's safe-mode crypto: `receiveId` is the OA's app id, or the WeCom corp id. Decryption
 * checks the trailing id so a message encrypted for another app (same key reused) is refused.
 */
export class MsgCrypto {
  readonly #key: Buffer;
  readonly #iv: Buffer;

  constructor(
    private readonly token: string,
    encodingAESKey: string,
    private readonly receiveId: string,
  ) {
    if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAESKey)) throw new Error('EncodingAESKey must be 43 base64 characters');
    this.#key = Buffer.from(`${encodingAESKey}=`, 'base64');
    if (this.#key.length !== 32) throw new Error('EncodingAESKey must decode to 32 bytes');
    this.#iv = this.#key.subarray(0, 16);
  }

  /** msg_signature over token, timestamp, nonce and (for messages) the Encrypt value. */
  signature(timestamp: string, nonce: string, encrypt?: string): string {
    return encrypt === undefined ? sha1Signature(this.token, timestamp, nonce) : sha1Signature(this.token, timestamp, nonce, encrypt);
  }

  encrypt(message: string, random16: Buffer = randomBytes(RANDOM_PREFIX_BYTES)): string {
    if (random16.length !== RANDOM_PREFIX_BYTES) throw new Error('the random prefix is 16 bytes');
    const msg = Buffer.from(message, 'utf8');
    const len = Buffer.alloc(LENGTH_BYTES);
    len.writeUInt32BE(msg.length, 0);
    const plain = pkcs7Pad(Buffer.concat([random16, len, msg, Buffer.from(this.receiveId, 'utf8')]));
    const cipher = createCipheriv('aes-256-cbc', this.#key, this.#iv);
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
  }

  /** The message and the id it was encrypted for; throws validation_failed or forbidden. */
  decrypt(encrypt: string): { message: string; receiveId: string } {
    if (typeof encrypt !== 'string' || encrypt.length === 0 || encrypt.length > MAX_ENCRYPTED_CHARS || !/^[A-Za-z0-9+/]+={0,2}$/.test(encrypt)) {
      throw new AppError('validation_failed', 'Encrypt is not base64');
    }
    const data = Buffer.from(encrypt, 'base64');
    if (data.length === 0 || data.length % 16 !== 0) throw new AppError('validation_failed', 'encrypted message has a bad length');
    const decipher = createDecipheriv('aes-256-cbc', this.#key, this.#iv);
    decipher.setAutoPadding(false);
    const plain = pkcs7Unpad(Buffer.concat([decipher.update(data), decipher.final()]));
    if (plain.length < RANDOM_PREFIX_BYTES + LENGTH_BYTES) throw new AppError('validation_failed', 'encrypted message is too short');
    const len = plain.readUInt32BE(RANDOM_PREFIX_BYTES);
    const start = RANDOM_PREFIX_BYTES + LENGTH_BYTES;
    if (start + len > plain.length) throw new AppError('validation_failed', 'encrypted message length field is wrong');
    const msgBytes = plain.subarray(start, start + len);
    const receiveId = plain.subarray(start + len).toString('utf8');
    if (receiveId !== this.receiveId) throw new AppError('forbidden', 'message was encrypted for another app');
    return { message: decodeUtf8(msgBytes, 'encrypted message'), receiveId };
  }
}
