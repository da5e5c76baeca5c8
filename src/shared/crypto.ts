// Field encryption at rest (SM4-CBC, versioned keys) and HMAC-SM3 blind indexes for equality look-ups.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const SM4_KEY_BYTES = 16;
const SM4_IV_BYTES = 16;
const ENVELOPE_PREFIX = 'sm4';
const KEY_VERSION = /^[A-Za-z0-9_-]{1,16}$/;
// Blind-index domains are code constants (`card`, `phone`, `id.resident`); restricting their
// characters keeps the `domain NUL value` encoding unambiguous.
const BLIND_INDEX_DOMAIN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface FieldKeys {
  /** SM4 keys by version, 16 bytes each. */
  keys: Record<string, Buffer>;
  /** The version new ciphertexts use. */
  current: string;
  /** HMAC-SM3 key for blind indexes (never rotated in place: a new key means re-indexing). */
  blindIndexKey: Buffer;
}

/** A sensitive wrapper (src/shared/sensitive.ts): encrypted and indexed by its clear value, never its mask. */
export interface Revealable {
  reveal(): string;
}

function clearText(value: string | Revealable): string {
  if (typeof value === 'string') return value;
  if (value && typeof value.reveal === 'function') return value.reveal();
  throw new FieldCryptoError('expected a string or a sensitive value');
}

export class FieldCryptoError extends Error {
  override name = 'FieldCryptoError';
}

/**
 * Encrypts C2 fields (card, ID, phone, name). The envelope `sm4:<version>:<iv b64>:<ct b64>:<mac b64>`
 * names its key version so keys can rotate: old rows stay readable, `reencrypt` moves them on.
 * The MAC (HMAC-SM3 over version, IV and ciphertext, with a key derived from the SM4 key) makes
 * tampering detectable; CBC alone would not.
 */
export class FieldCrypto {
  // A Map, not an object: a version read from an envelope (`constructor`, `__proto__`) must not
  // find anything on Object.prototype.
  readonly #keys: Map<string, { enc: Buffer; mac: Buffer }>;
  readonly #current: string;
  readonly #blindKey: Buffer;

  constructor(fk: FieldKeys) {
    if (!Object.hasOwn(fk.keys, fk.current)) throw new FieldCryptoError(`current key version ${fk.current} has no key`);
    this.#keys = new Map();
    for (const [version, key] of Object.entries(fk.keys)) {
      if (!Buffer.isBuffer(key) || key.length !== SM4_KEY_BYTES) throw new FieldCryptoError(`key ${version} must be ${SM4_KEY_BYTES} bytes`);
      if (!KEY_VERSION.test(version)) throw new FieldCryptoError(`bad key version name ${version}`);
      this.#keys.set(version, { enc: key, mac: createHmac('sm3', key).update('wecard/field-mac').digest() });
    }
    this.#current = fk.current;
    if (fk.blindIndexKey.length < 32) throw new FieldCryptoError('blind index key must be at least 32 bytes');
    this.#blindKey = fk.blindIndexKey;
  }

  get currentVersion(): string {
    return this.#current;
  }

  /**
   * Encrypts under the current key. A sensitive wrapper is encrypted by its clear value: passing
   * `${card}` (the masked form) by mistake would store the mask and lose the number.
   */
  encrypt(value: string | Revealable): string {
    const plaintext = clearText(value);
    const version = this.#current;
    const k = this.#keys.get(version)!;
    const iv = randomBytes(SM4_IV_BYTES);
    const cipher = createCipheriv('sm4-cbc', k.enc, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const mac = createHmac('sm3', k.mac).update(`${version}:`).update(iv).update(ct).digest();
    return [ENVELOPE_PREFIX, version, iv.toString('base64'), ct.toString('base64'), mac.toString('base64')].join(':');
  }

  decrypt(envelope: string): string {
    if (typeof envelope !== 'string') throw new FieldCryptoError('not a field ciphertext');
    const parts = envelope.split(':');
    if (parts.length !== 5 || parts[0] !== ENVELOPE_PREFIX) throw new FieldCryptoError('not a field ciphertext');
    const [, version, ivB64, ctB64, macB64] = parts as [string, string, string, string, string];
    if (!KEY_VERSION.test(version)) throw new FieldCryptoError('not a field ciphertext');
    const k = this.#keys.get(version);
    if (!k) throw new FieldCryptoError(`no key for version ${version}`);
    if (!BASE64.test(ivB64) || !BASE64.test(ctB64) || !BASE64.test(macB64)) throw new FieldCryptoError('not a field ciphertext');
    const iv = Buffer.from(ivB64, 'base64');
    const ct = Buffer.from(ctB64, 'base64');
    const mac = Buffer.from(macB64, 'base64');
    if (iv.length !== SM4_IV_BYTES || ct.length === 0 || ct.length % 16 !== 0) throw new FieldCryptoError('not a field ciphertext');
    const expected = createHmac('sm3', k.mac).update(`${version}:`).update(iv).update(ct).digest();
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
      throw new FieldCryptoError('field ciphertext failed its integrity check');
    }
    const decipher = createDecipheriv('sm4-cbc', k.enc, iv);
    try {
      return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
    } catch {
      // Unreachable unless the MAC key and the cipher key disagree; keep the error type stable.
      throw new FieldCryptoError('field ciphertext could not be decrypted');
    }
  }

  /** The key version an envelope was written with (for rotation sweeps). */
  versionOf(envelope: string): string | undefined {
    const parts = envelope.split(':');
    return parts.length === 5 && parts[0] === ENVELOPE_PREFIX ? parts[1] : undefined;
  }

  /** Re-encrypts under the current key when the envelope uses an older one; otherwise returns it unchanged. */
  reencrypt(envelope: string): string {
    return this.versionOf(envelope) === this.#current ? envelope : this.encrypt(this.decrypt(envelope));
  }

  /**
   * Deterministic HMAC-SM3 of a normalised value, separated by `domain` (e.g. `card`, `phone`)
   * so equal strings of different kinds never share an index value. Hex, 64 chars. `domain` is
   * 1–64 letters, digits, `_ . : -`; the caller normalises `value` (e.g. CardNumber.reveal()).
   */
  blindIndex(domain: string, value: string | Revealable): string {
    if (!BLIND_INDEX_DOMAIN.test(domain)) throw new FieldCryptoError(`bad blind index domain ${JSON.stringify(domain)}`);
    return createHmac('sm3', this.#blindKey).update(`${domain}\u0000${clearText(value)}`).digest('hex');
  }
}

/** Fresh random keys for an embedded install (persisted under DATA_DIR by the caller). */
export function generateFieldKeys(): { fieldKeys: Record<string, string>; current: string; blindIndexKey: string } {
  return {
    fieldKeys: { v1: randomBytes(SM4_KEY_BYTES).toString('hex') },
    current: 'v1',
    blindIndexKey: randomBytes(32).toString('hex'),
  };
}

export function fieldKeysFromHex(keys: Record<string, string>, current: string, blindIndexKey: string): FieldKeys {
  return {
    keys: Object.fromEntries(Object.entries(keys).map(([v, h]) => [v, Buffer.from(h, 'hex')])),
    current,
    blindIndexKey: Buffer.from(blindIndexKey, 'hex'),
  };
}
