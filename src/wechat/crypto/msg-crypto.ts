// Safe-mode (AES) message crypto and SHA1 signatures shared by the Official Account and WeCom callbacks (WECHAT.md §1, §5).
import { createCipheriv, createDecipheriv, hash, randomBytes, timingSafeEqual } from 'node:crypto';
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
  return hash('sha1', parts.sort().join(''), 'hex');
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

const AES_BLOCK = 16;

/** `block ^= a ^ b`, on the first AES block of `block`. */
function xorFirstBlock(block: Buffer, a: Buffer, b: Buffer): void {
  for (let i = 0; i < AES_BLOCK; i++) block[i] = block[i]! ^ a[i]! ^ b[i]!;
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
  /**
   * One AES-256-CBC context per direction, kept for the life of the object: setting up the key
   * schedule costs several times the encryption of a message. CBC carries the last ciphertext
   * block as the next IV, so each message's first block is corrected to start again from the
   * fixed IV (see #encryptBlocks, #decryptBlocks); the output is exactly that of a fresh context.
   */
  #enc: ReturnType<typeof createCipheriv> | undefined;
  #dec: ReturnType<typeof createDecipheriv> | undefined;
  /** The last ciphertext block each context processed: its chaining value. */
  readonly #encChain = Buffer.alloc(AES_BLOCK);
  readonly #decChain = Buffer.alloc(AES_BLOCK);
  readonly #receiveIdBytes: Buffer;

  constructor(
    private readonly token: string,
    encodingAESKey: string,
    private readonly receiveId: string,
  ) {
    if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAESKey)) throw new Error('EncodingAESKey must be 43 base64 characters');
    this.#key = Buffer.from(`${encodingAESKey}=`, 'base64');
    if (this.#key.length !== 32) throw new Error('EncodingAESKey must decode to 32 bytes');
    this.#iv = this.#key.subarray(0, 16);
    this.#receiveIdBytes = Buffer.from(receiveId, 'utf8');
  }

  /** msg_signature over token, timestamp, nonce and (for messages) the Encrypt value. */
  signature(timestamp: string, nonce: string, encrypt?: string): string {
    return encrypt === undefined ? sha1Signature(this.token, timestamp, nonce) : sha1Signature(this.token, timestamp, nonce, encrypt);
  }

  /** AES-256-CBC with the fixed IV over whole blocks, in place of `plain`'s first block. */
  #encryptBlocks(plain: Buffer): Buffer {
    if (!this.#enc) {
      this.#enc = createCipheriv('aes-256-cbc', this.#key, this.#iv);
      this.#enc.setAutoPadding(false);
      this.#iv.copy(this.#encChain);
    }
    // The context chains from its last ciphertext block C; P0 ^ IV ^ C is enciphered as E(P0 ^ IV).
    xorFirstBlock(plain, this.#iv, this.#encChain);
    let out: Buffer;
    try {
      out = this.#enc.update(plain);
    } catch (err) {
      this.#enc = undefined;
      throw err;
    }
    if (out.length !== plain.length) {
      // Never seen with padding off; a context that held data back would corrupt later messages.
      this.#enc = undefined;
      throw new Error('AES context returned a partial block');
    }
    out.copy(this.#encChain, 0, out.length - AES_BLOCK);
    return out;
  }

  /** The inverse: the context yields D(C0) ^ C; the first block is set back to D(C0) ^ IV. */
  #decryptBlocks(data: Buffer): Buffer {
    if (!this.#dec) {
      this.#dec = createDecipheriv('aes-256-cbc', this.#key, this.#iv);
      this.#dec.setAutoPadding(false);
      this.#iv.copy(this.#decChain);
    }
    let out: Buffer;
    try {
      out = this.#dec.update(data);
    } catch (err) {
      this.#dec = undefined;
      throw err;
    }
    if (out.length !== data.length) {
      this.#dec = undefined;
      throw new Error('AES context returned a partial block');
    }
    xorFirstBlock(out, this.#decChain, this.#iv);
    data.copy(this.#decChain, 0, data.length - AES_BLOCK);
    return out;
  }

  encrypt(message: string, random16: Buffer = randomBytes(RANDOM_PREFIX_BYTES)): string {
    if (random16.length !== RANDOM_PREFIX_BYTES) throw new Error('the random prefix is 16 bytes');
    // random(16) | length(4, BE) | message | receiveId | PKCS#7 padding to 32 bytes, built in one buffer.
    const msgLen = Buffer.byteLength(message, 'utf8');
    const unpadded = RANDOM_PREFIX_BYTES + LENGTH_BYTES + msgLen + this.#receiveIdBytes.length;
    const pad = PAD_BLOCK - (unpadded % PAD_BLOCK);
    const plain = Buffer.allocUnsafe(unpadded + pad);
    random16.copy(plain, 0);
    plain.writeUInt32BE(msgLen, RANDOM_PREFIX_BYTES);
    plain.write(message, RANDOM_PREFIX_BYTES + LENGTH_BYTES, msgLen, 'utf8');
    this.#receiveIdBytes.copy(plain, RANDOM_PREFIX_BYTES + LENGTH_BYTES + msgLen);
    plain.fill(pad, unpadded);
    return this.#encryptBlocks(plain).toString('base64');
  }

  /** The message and the id it was encrypted for; throws validation_failed or forbidden. */
  decrypt(encrypt: string): { message: string; receiveId: string } {
    if (typeof encrypt !== 'string' || encrypt.length === 0 || encrypt.length > MAX_ENCRYPTED_CHARS || !/^[A-Za-z0-9+/]+={0,2}$/.test(encrypt)) {
      throw new AppError('validation_failed', 'Encrypt is not base64');
    }
    const data = Buffer.from(encrypt, 'base64');
    if (data.length === 0 || data.length % 16 !== 0) throw new AppError('validation_failed', 'encrypted message has a bad length');
    const plain = pkcs7Unpad(this.#decryptBlocks(data));
    if (plain.length < RANDOM_PREFIX_BYTES + LENGTH_BYTES) throw new AppError('validation_failed', 'encrypted message is too short');
    const len = plain.readUInt32BE(RANDOM_PREFIX_BYTES);
    const start = RANDOM_PREFIX_BYTES + LENGTH_BYTES;
    if (start + len > plain.length) throw new AppError('validation_failed', 'encrypted message length field is wrong');
    const msgBytes = plain.subarray(start, start + len);
    const idBytes = plain.subarray(start + len);
    if (!idBytes.equals(this.#receiveIdBytes)) throw new AppError('forbidden', 'message was encrypted for another app');
    return { message: decodeUtf8(msgBytes, 'encrypted message'), receiveId: this.receiveId };
  }
}
