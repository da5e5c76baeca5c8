// The platform keys a tenant verifies WeChat Pay with, keyed by `Wechatpay-Serial`: certificates (old mode) and public keys `PUB_KEY_ID_…` (new mode), both during migration and rotation (§4.11).
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';

export const PUBLIC_KEY_ID_PREFIX = 'PUB_KEY_ID_';
/** A platform public key id, as the console shows it. */
export const PUBLIC_KEY_ID_PATTERN = /^PUB_KEY_ID_[0-9]{10,40}$/;
/** A certificate serial: uppercase hex in headers, but compared case-insensitively. */
export const CERT_SERIAL_PATTERN = /^[0-9A-Fa-f]{8,64}$/;
/** Keys one tenant may hold at once; rotation keeps two or three, this only bounds a mistake. */
export const PLATFORM_KEYS_MAX = 16;
/** PEM text we accept for one key or certificate. */
export const PLATFORM_PEM_MAX_CHARS = 8_192;

export type PlatformKeyKind = 'public_key' | 'certificate';

export interface PlatformKey {
  /** `PUB_KEY_ID_…` or the certificate serial (uppercase hex). */
  serialNo: string;
  kind: PlatformKeyKind;
  key: KeyObject;
  /** Certificates only: outside [notBefore, notAfter] the key verifies nothing. */
  notBefore?: Date;
  notAfter?: Date;
}

/** Normalises a serial as it arrives in a header: certificate serials upper-case, key ids unchanged. */
export function normaliseSerial(serial: string): string {
  return CERT_SERIAL_PATTERN.test(serial) ? serial.toUpperCase() : serial;
}

export function isSerial(serial: unknown): serial is string {
  return typeof serial === 'string' && (PUBLIC_KEY_ID_PATTERN.test(serial) || CERT_SERIAL_PATTERN.test(serial));
}

/**
 * Reads a platform key from PEM: a `CERTIFICATE` (its serial and validity come from the certificate;
 * a given serial must match) or a `PUBLIC KEY` (the serial, a `PUB_KEY_ID_…`, must be given).
 * Throws an Error naming the problem; never echoes the PEM.
 */
export function platformKeyFromPem(pem: string, serialNo?: string): PlatformKey {
  if (typeof pem !== 'string' || pem.length > PLATFORM_PEM_MAX_CHARS) throw new Error('the PEM text is missing or too long');
  if (pem.includes('-----BEGIN CERTIFICATE-----')) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      throw new Error('the certificate cannot be read');
    }
    const serial = cert.serialNumber.toUpperCase();
    if (serialNo !== undefined && normaliseSerial(serialNo) !== serial) throw new Error('the serial does not match the certificate');
    if (cert.publicKey.asymmetricKeyType !== 'rsa') throw new Error('the certificate is not an RSA key');
    return { serialNo: serial, kind: 'certificate', key: cert.publicKey, notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
  }
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('expected a PUBLIC KEY or CERTIFICATE PEM');
  if (serialNo === undefined || !isSerial(serialNo)) throw new Error('a public key needs its id (PUB_KEY_ID_…) or serial');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('the public key cannot be read');
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error('the public key is not RSA');
  return { serialNo: normaliseSerial(serialNo), kind: 'public_key', key };
}

/** The keys of one tenant, looked up by the serial the platform names; the first entry for a serial wins. */
export class PlatformKeySet {
  readonly #keys = new Map<string, PlatformKey>();

  constructor(keys: Iterable<PlatformKey>) {
    for (const k of keys) {
      if (this.#keys.size >= PLATFORM_KEYS_MAX) break;
      const serial = normaliseSerial(k.serialNo);
      if (!this.#keys.has(serial)) this.#keys.set(serial, { ...k, serialNo: serial });
    }
  }

  /** The key for `serial` usable at `now`, or undefined (unknown serial, or a certificate out of its validity). */
  get(serial: string, now: Date): KeyObject | undefined {
    if (!isSerial(serial)) return undefined;
    const k = this.#keys.get(normaliseSerial(serial));
    if (!k) return undefined;
    if (k.notBefore && now < k.notBefore) return undefined;
    if (k.notAfter && now > k.notAfter) return undefined;
    return k.key;
  }

  serials(): string[] {
    return [...this.#keys.keys()];
  }

  get size(): number {
    return this.#keys.size;
  }
}
