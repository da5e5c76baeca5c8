// AEAD_AES_256_GCM as WeChat Pay uses it for notification resources and certificates: key = APIv3 key bytes, base64(ciphertext ‖ 16-byte tag) (WECHAT-VECTORS.md §4.4).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { newNonce } from './signing.ts';

export const AEAD_ALGORITHM = 'AEAD_AES_256_GCM';
/** The APIv3 key: 32 ASCII characters used as raw bytes, not base64. */
export const API_V3_KEY_BYTES = 32;
/** "随机串nonce长度12个字节". */
export const RESOURCE_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;
/** "associated_data长度小于16个字节" is WeChat's own value; we accept a little more from our own sandbox tests, still bounded. */
export const ASSOCIATED_DATA_MAX_BYTES = 64;
/** A notification resource is a few KB; a certificate about 2 KB. */
export const CIPHERTEXT_MAX_CHARS = 64 * 1024;

/** Thrown when a resource cannot be decrypted: wrong key, tampered text, bad nonce or tag. */
export class AeadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AeadError';
  }
}

/** 16-byte keys use AES-128-GCM (only the Go SDK's published vectors do that); 32-byte keys AES-256-GCM. */
function algorithmFor(key: Buffer): 'aes-128-gcm' | 'aes-256-gcm' {
  if (key.length === 32) return 'aes-256-gcm';
  if (key.length === 16) return 'aes-128-gcm';
  throw new AeadError(`an AES-GCM key is 16 or 32 bytes, not ${key.length}`);
}

/** Low level: base64(ciphertext ‖ tag) of `plaintext`. */
export function gcmEncrypt(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): string {
  const cipher = createCipheriv(algorithmFor(key), key, nonce, { authTagLength: GCM_TAG_BYTES }).setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]).toString('base64');
}

/** Low level: the plaintext bytes, or AeadError when the tag does not verify. */
export function gcmDecrypt(key: Buffer, nonce: Buffer, aad: Buffer, ciphertextB64: string): Buffer {
  if (typeof ciphertextB64 !== 'string' || ciphertextB64.length > CIPHERTEXT_MAX_CHARS || !/^[A-Za-z0-9+/]*={0,2}$/.test(ciphertextB64)) {
    throw new AeadError('ciphertext is not base64 of a bounded size');
  }
  const data = Buffer.from(ciphertextB64, 'base64');
  if (data.length < GCM_TAG_BYTES) throw new AeadError('ciphertext is shorter than its tag');
  const decipher = createDecipheriv(algorithmFor(key), key, nonce, { authTagLength: GCM_TAG_BYTES });
  decipher.setAuthTag(data.subarray(data.length - GCM_TAG_BYTES)).setAAD(aad);
  try {
    return Buffer.concat([decipher.update(data.subarray(0, data.length - GCM_TAG_BYTES)), decipher.final()]);
  } catch {
    throw new AeadError('the resource does not decrypt with this key (tampered, or another key)');
  }
}

/** The `resource` / `encrypt_certificate` object of the platform's messages. */
export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string;
  original_type?: string;
}

function apiV3KeyBytes(apiV3Key: string): Buffer {
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== API_V3_KEY_BYTES) throw new AeadError(`the APIv3 key is ${API_V3_KEY_BYTES} bytes`);
  return key;
}

/** Decrypts a platform resource with the APIv3 key (strictly 32 bytes and a 12-byte nonce) into UTF-8 text. */
export function decryptResource(apiV3Key: string, resource: EncryptedResource): string {
  if (resource.algorithm !== AEAD_ALGORITHM) throw new AeadError(`unsupported algorithm ${String(resource.algorithm).slice(0, 40)}`);
  const nonce = Buffer.from(String(resource.nonce), 'utf8');
  if (nonce.length !== RESOURCE_NONCE_BYTES) throw new AeadError(`the nonce is ${RESOURCE_NONCE_BYTES} bytes`);
  const aad = Buffer.from(resource.associated_data ?? '', 'utf8');
  if (aad.length > ASSOCIATED_DATA_MAX_BYTES) throw new AeadError('associated_data is too long');
  const plain = gcmDecrypt(apiV3KeyBytes(apiV3Key), nonce, aad, resource.ciphertext);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new AeadError('the decrypted resource is not UTF-8');
  }
}

/** Encrypts a resource as the platform does (the sandbox's side); a fresh 12-character nonce unless given. */
export function encryptResource(apiV3Key: string, plaintext: string, opts: { associatedData: string; originalType: string; nonce?: string }): Required<EncryptedResource> {
  const nonce = opts.nonce ?? newNonce(RESOURCE_NONCE_BYTES);
  const ciphertext = gcmEncrypt(apiV3KeyBytes(apiV3Key), Buffer.from(nonce, 'utf8'), Buffer.from(opts.associatedData, 'utf8'), Buffer.from(plaintext, 'utf8'));
  return { original_type: opts.originalType, algorithm: AEAD_ALGORITHM, ciphertext, associated_data: opts.associatedData, nonce };
}
