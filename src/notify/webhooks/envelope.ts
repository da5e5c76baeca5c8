// The partner webhook wire format (WEBHOOKS.md): the AES-256-GCM envelope of the event JSON and the HMAC-SHA256 signature over timestamp and body.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Signature header value prefix: the scheme's version, so a later scheme can be sent beside it. */
export const WEBHOOK_SIGNATURE_SCHEME = 'v1';
export const WEBHOOK_HEADERS = {
  signature: 'x-wecard-signature',
  timestamp: 'x-wecard-timestamp',
  eventId: 'x-wecard-event-id',
  eventType: 'x-wecard-event-type',
  deliveryId: 'x-wecard-delivery-id',
} as const;
/** What partners should accept between our timestamp and their clock (a replayed old request fails). */
export const WEBHOOK_TIMESTAMP_TOLERANCE_S = 300;

/** The event as the partner reads it after decryption. */
export interface WebhookEvent {
  id: string;
  type: string;
  /** RFC 3339. */
  createdAt: string;
  data: Record<string, unknown>;
}

export interface WebhookEnvelope {
  v: 1;
  alg: 'AES-256-GCM';
  /** base64, 12 bytes. */
  iv: string;
  /** base64 of the ciphertext of the event's UTF-8 JSON. */
  ciphertext: string;
  /** base64, 16 bytes. */
  tag: string;
}

/** Encrypts the event under a fresh IV; the HTTP body is this envelope's JSON. */
export function sealWebhookBody(aesKey: Buffer, event: WebhookEvent): string {
  if (aesKey.length !== WEBHOOK_KEY_BYTES) throw new Error('webhook AES key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', aesKey, iv);
  const ciphertext = Buffer.concat([c.update(JSON.stringify(event), 'utf8'), c.final()]);
  const envelope: WebhookEnvelope = { v: 1, alg: 'AES-256-GCM', iv: iv.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: c.getAuthTag().toString('base64') };
  return JSON.stringify(envelope);
}

/** `v1=` + hex HMAC-SHA256 over `${timestamp}.${body}` (timestamp in Unix seconds, body as sent). */
export function signWebhook(hmacKey: Buffer, timestamp: string, body: string): string {
  return `${WEBHOOK_SIGNATURE_SCHEME}=${createHmac('sha256', hmacKey).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** The partner's check, for tests and the documentation: signature first, then freshness. */
export function verifyWebhookSignature(hmacKey: Buffer, o: { timestamp: string; body: string; signature: string; nowS: number }): boolean {
  if (!/^\d{1,12}$/.test(o.timestamp) || Math.abs(o.nowS - Number(o.timestamp)) > WEBHOOK_TIMESTAMP_TOLERANCE_S) return false;
  const expected = Buffer.from(signWebhook(hmacKey, o.timestamp, o.body));
  const given = Buffer.from(o.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The partner's decryption (throws on a wrong key or any tampering: GCM authenticates). */
export function openWebhookBody(aesKey: Buffer, body: string): WebhookEvent {
  const env = JSON.parse(body) as WebhookEnvelope;
  if (env.v !== 1 || env.alg !== 'AES-256-GCM') throw new Error('unknown webhook envelope');
  const iv = Buffer.from(env.iv, 'base64');
  const tag = Buffer.from(env.tag, 'base64');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('malformed webhook envelope');
  const d = createDecipheriv('aes-256-gcm', aesKey, iv);
  d.setAuthTag(tag);
  return JSON.parse(Buffer.concat([d.update(Buffer.from(env.ciphertext, 'base64')), d.final()]).toString('utf8')) as WebhookEvent;
}
