// Authenticates an OA push and decodes it: URL signature, timestamp window, mode, msg_signature, decryption, addressee.
import { AppError } from '../../app/errors.ts';
import { signatureMatches, urlSignature } from '../crypto/msg-crypto.ts';
import { optionalField, requireField, type XmlObject } from '../xml.ts';
import { dedupKeyOf, parseInbound } from './inbound.ts';
import type { OaTenant } from './tenant-cache.ts';
import type { OaInbound } from './types.ts';
import { detectFormat, parseFields, type OaFormat } from './wire.ts';

/**
 * Pushes whose signed timestamp is further than this from our clock are refused: WeChat's retries
 * come within ~15 s, so five minutes absorbs clock skew while bounding how long a captured request
 * could be replayed (the same window WeChat Pay uses, WECHAT.md §4).
 */
export const OA_TIMESTAMP_WINDOW_MS = 5 * 60_000;

export interface OaQuery {
  signature: string;
  timestamp: string;
  nonce: string;
  openid?: string;
  encrypt_type?: 'aes' | 'raw';
  msg_signature?: string;
}

export interface VerifiedPush {
  msg: OaInbound;
  dedupKey: string;
  /** The body's format, which the reply keeps. */
  format: OaFormat;
  /** The push came encrypted (encrypt_type=aes), so the reply goes back encrypted. */
  encrypted: boolean;
}

/** The URL signature over (token, timestamp, nonce): GET verification and every POST carry it. */
export function assertUrlSignature(tenant: OaTenant, q: { signature: string; timestamp: string; nonce: string }): void {
  if (!signatureMatches(urlSignature(tenant.oa.token, q.timestamp, q.nonce), q.signature)) {
    throw new AppError('unauthenticated', 'signature does not match');
  }
}

function assertAddressee(tenant: OaTenant, toUserName: string | undefined): void {
  const originalId = tenant.oa.originalId;
  if (originalId !== undefined && toUserName !== undefined && toUserName !== originalId) {
    throw new AppError('forbidden', 'the message is addressed to another Official Account');
  }
}

/**
 * Everything that must hold before a push may touch state. Order matters for cost and for what
 * an attacker learns: the cheap signature checks come before any parsing of the body.
 */
export function verifyPush(tenant: OaTenant, q: OaQuery, body: Buffer, nowMs: number): VerifiedPush {
  assertUrlSignature(tenant, q);
  if (Math.abs(Number(q.timestamp) * 1000 - nowMs) > OA_TIMESTAMP_WINDOW_MS) {
    throw new AppError('unauthenticated', 'timestamp is too far from now');
  }
  const encrypted = q.encrypt_type === 'aes';
  // In plain mode the body is not signed at all: a safe-mode account must never take one.
  if (!encrypted && tenant.oa.mode === 'safe') throw new AppError('forbidden', 'this Official Account accepts encrypted (safe-mode) pushes only');
  if (body.length === 0) throw AppError.validation([{ field: 'body', message: 'is required' }]);
  let format = detectFormat(body);
  let fields: XmlObject = parseFields(body, format);
  if (encrypted) {
    const encrypt = requireField(fields, 'Encrypt');
    if (!signatureMatches(tenant.crypto.signature(q.timestamp, q.nonce, encrypt), q.msg_signature)) {
      throw new AppError('unauthenticated', 'msg_signature does not match');
    }
    assertAddressee(tenant, optionalField(fields, 'ToUserName'));
    const inner = tenant.crypto.decrypt(encrypt).message;
    format = detectFormat(inner);
    fields = parseFields(inner, format);
  }
  const msg = parseInbound(fields, tenant.tenantId);
  assertAddressee(tenant, msg.accountId);
  if (q.openid !== undefined && q.openid !== msg.openid) {
    throw AppError.validation([{ field: 'openid', message: 'differs from FromUserName' }]);
  }
  return { msg, dedupKey: dedupKeyOf(msg, fields), format, encrypted };
}
