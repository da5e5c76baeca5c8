// The card system's MQTT wire format (MQTT.md): topics, the SM4-CBC + HMAC-SM3 envelope, and the message shapes, checked strictly.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CardNumber } from '../../shared/sensitive.ts';
import { TENANT_ID_PATTERN } from '../../tenants/index.ts';

export const CARDSYS_SM4_KEY_BYTES = 16;
export const CARDSYS_MAC_KEY_BYTES = 32;
const IV_BYTES = 16;
const MAC_BYTES = 32;
/** Largest MQTT payload the consumer opens (a snapshot part of CARDSYS_SNAPSHOT_PART_MAX cards fits well inside). */
export const CARDSYS_MAX_MESSAGE_BYTES = 256 * 1024;
/** Cards in one snapshot message; a larger snapshot is split into parts. */
export const CARDSYS_SNAPSHOT_PART_MAX = 500;
/** Parts of one snapshot (CARDSYS_SNAPSHOT_PART_MAX × this bounds a tenant's card count per sync). */
export const CARDSYS_SNAPSHOT_MAX_PARTS = 2_000;
/** The default topic root; tests and multi-deployment brokers choose their own. */
export const CARDSYS_DEFAULT_TOPIC_ROOT = 'cardsys/v1';
/** The shared-subscription group wecard instances join, so each message goes to one instance. */
export const CARDSYS_SHARE_GROUP = 'wecard';

/** The card system's vocabulary (issue 6: normal, lost, cancelled; frozen for a judicial or risk freeze). */
export const CARDSYS_STATUSES = ['normal', 'lost', 'frozen', 'cancelled'] as const;
export type CardsysStatus = (typeof CARDSYS_STATUSES)[number];

export type TopicKind = 'status' | 'snapshot' | 'sync-request';
const TOPIC_KINDS: readonly TopicKind[] = ['status', 'snapshot', 'sync-request'];
const TOPIC_ROOT = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_.-]+)*$/;
const ID = /^[A-Za-z0-9._:-]{1,64}$/;
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SEQ_MAX = 2n ** 63n - 1n;

export class WireError extends Error {
  override name = 'WireError';
  /** A short machine reason for metrics and logs; never carries message content. */
  constructor(readonly reason: 'too_large' | 'not_envelope' | 'unknown_key' | 'bad_mac' | 'bad_json' | 'bad_shape' | 'bad_topic', detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason);
  }
}

export function assertTopicRoot(root: string): string {
  if (!TOPIC_ROOT.test(root) || root.length > 100) throw new Error(`bad card-system topic root ${JSON.stringify(root)}`);
  return root;
}

export function topicFor(root: string, tenantId: string, kind: TopicKind): string {
  return `${root}/${tenantId}/${kind}`;
}

/** The topic filter of one kind across tenants; `shared` prefixes the broker's shared-subscription group. */
export function topicFilter(root: string, kind: TopicKind, shareGroup?: string): string {
  const filter = `${root}/+/${kind}`;
  return shareGroup ? `$share/${shareGroup}/${filter}` : filter;
}

export function parseTopic(root: string, topic: string): { tenantId: string; kind: TopicKind } {
  if (!topic.startsWith(`${root}/`)) throw new WireError('bad_topic');
  const rest = topic.slice(root.length + 1).split('/');
  if (rest.length !== 2) throw new WireError('bad_topic');
  const [tenantId, kind] = rest as [string, string];
  if (!TENANT_ID_PATTERN.test(tenantId) || !(TOPIC_KINDS as readonly string[]).includes(kind)) throw new WireError('bad_topic');
  return { tenantId, kind: kind as TopicKind };
}

export interface CardsysKey {
  kid: string;
  /** SM4 key, 16 bytes. */
  enc: Buffer;
  /** HMAC-SM3 key, 32 bytes. */
  mac: Buffer;
}

function macOf(key: CardsysKey, topic: string, iv: Buffer, ct: Buffer): Buffer {
  return createHmac('sm3', key.mac).update(`v1|${topic}|${key.kid}|`, 'utf8').update(iv).update(ct).digest();
}

/**
 * Seals a message for `topic`: SM4-CBC (PKCS#7) under a fresh random IV, then HMAC-SM3 over the
 * topic, key id, IV and ciphertext (encrypt-then-MAC). Binding the topic stops a valid message of
 * one tenant or kind from being replayed onto another topic. Node has no SM4-GCM (DOMAIN.md).
 */
export function seal(topic: string, key: CardsysKey, message: unknown, fixedIv?: Buffer): Buffer {
  if (key.enc.length !== CARDSYS_SM4_KEY_BYTES || key.mac.length !== CARDSYS_MAC_KEY_BYTES) throw new Error('bad card-system key length');
  // A fixed IV is for the published test vector only; every real message gets a fresh one.
  const iv = fixedIv ?? randomBytes(IV_BYTES);
  if (iv.length !== IV_BYTES) throw new Error('bad IV length');
  const cipher = createCipheriv('sm4-cbc', key.enc, iv);
  const ct = Buffer.concat([cipher.update(JSON.stringify(message), 'utf8'), cipher.final()]);
  const envelope = { v: 1, kid: key.kid, iv: iv.toString('base64'), ct: ct.toString('base64'), mac: macOf(key, topic, iv, ct).toString('base64') };
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

/** The key id an envelope names (to look its key up), without verifying anything. */
export function envelopeKid(payload: Buffer): string {
  const env = parseEnvelope(payload);
  return env.kid;
}

function parseEnvelope(payload: Buffer): { kid: string; iv: Buffer; ct: Buffer; mac: Buffer } {
  if (payload.length > CARDSYS_MAX_MESSAGE_BYTES) throw new WireError('too_large');
  let env: any;
  try {
    env = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new WireError('not_envelope');
  }
  if (!env || typeof env !== 'object' || env.v !== 1 || typeof env.kid !== 'string' || !KID.test(env.kid)) throw new WireError('not_envelope');
  for (const f of ['iv', 'ct', 'mac'] as const) if (typeof env[f] !== 'string' || !BASE64.test(env[f])) throw new WireError('not_envelope');
  const iv = Buffer.from(env.iv, 'base64');
  const ct = Buffer.from(env.ct, 'base64');
  const mac = Buffer.from(env.mac, 'base64');
  if (iv.length !== IV_BYTES || ct.length === 0 || ct.length % 16 !== 0 || mac.length !== MAC_BYTES) throw new WireError('not_envelope');
  return { kid: env.kid, iv, ct, mac };
}

/** Verifies and decrypts an envelope received on `topic`; `keyFor` finds the key by id (undefined: unknown key). */
export function open(topic: string, payload: Buffer, keyFor: (kid: string) => CardsysKey | undefined): unknown {
  const env = parseEnvelope(payload);
  const key = keyFor(env.kid);
  if (!key) throw new WireError('unknown_key');
  const expected = macOf(key, topic, env.iv, env.ct);
  if (!timingSafeEqual(expected, env.mac)) throw new WireError('bad_mac');
  let text: string;
  try {
    const d = createDecipheriv('sm4-cbc', key.enc, env.iv);
    text = Buffer.concat([d.update(env.ct), d.final()]).toString('utf8');
  } catch {
    throw new WireError('bad_mac', 'authentic but undecryptable');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new WireError('bad_json');
  }
}

// --- message shapes -------------------------------------------------------------------------

/** A card's status as the card system states it, in an event or a snapshot entry. */
export interface CardStatusEntry {
  cardNumber: CardNumber;
  status: CardsysStatus;
  changedAt: Date;
  /** The card system's per-card sequence number: higher is newer. */
  seq: bigint;
}

export interface StatusEvent extends CardStatusEntry {
  type: 'card.status';
  eventId: string;
}

export interface SnapshotPart {
  type: 'card.snapshot';
  snapshotId: string;
  /** The sync request it answers, or null for a snapshot the card system sent on its own. */
  requestId: string | null;
  asOf: Date;
  part: number;
  parts: number;
  cards: CardStatusEntry[];
}

export interface SyncRequest {
  type: 'sync.request';
  requestId: string;
  requestedAt: Date;
}

function shape(what: string): WireError {
  return new WireError('bad_shape', what);
}

function str(v: unknown, re: RegExp, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) throw shape(what);
  return v;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
function instant(v: unknown, what: string): Date {
  const s = str(v, RFC3339, what);
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw shape(what);
  return d;
}

function seqOf(v: unknown): bigint {
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^\d{1,19}$/.test(v)) n = BigInt(v);
  else throw shape('seq');
  if (n < 0n || n > SEQ_MAX) throw shape('seq');
  return n;
}

function entry(o: any): CardStatusEntry {
  if (!o || typeof o !== 'object') throw shape('entry');
  let cardNumber: CardNumber;
  try {
    cardNumber = CardNumber.parse(typeof o.cardNumber === 'string' ? o.cardNumber : '', 'cardNumber');
  } catch {
    throw shape('cardNumber');
  }
  if (!(CARDSYS_STATUSES as readonly unknown[]).includes(o.status)) throw shape('status');
  return { cardNumber, status: o.status as CardsysStatus, changedAt: instant(o.changedAt, 'changedAt'), seq: seqOf(o.seq) };
}

/** Checks a decrypted message against the shape its topic carries. */
export function parseMessage(kind: 'status', m: unknown): StatusEvent;
export function parseMessage(kind: 'snapshot', m: unknown): SnapshotPart;
export function parseMessage(kind: 'sync-request', m: unknown): SyncRequest;
export function parseMessage(kind: TopicKind, m: unknown): StatusEvent | SnapshotPart | SyncRequest;
export function parseMessage(kind: TopicKind, m: any): StatusEvent | SnapshotPart | SyncRequest {
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw shape('message');
  if (kind === 'status') {
    if (m.type !== 'card.status') throw shape('type');
    return { type: 'card.status', eventId: str(m.eventId, ID, 'eventId'), ...entry(m) };
  }
  if (kind === 'snapshot') {
    if (m.type !== 'card.snapshot') throw shape('type');
    const parts = m.parts;
    const part = m.part;
    if (!Number.isInteger(parts) || parts < 1 || parts > CARDSYS_SNAPSHOT_MAX_PARTS) throw shape('parts');
    if (!Number.isInteger(part) || part < 1 || part > parts) throw shape('part');
    if (!Array.isArray(m.cards) || m.cards.length > CARDSYS_SNAPSHOT_PART_MAX) throw shape('cards');
    return {
      type: 'card.snapshot',
      snapshotId: str(m.snapshotId, ID, 'snapshotId'),
      requestId: m.requestId === null || m.requestId === undefined ? null : str(m.requestId, ID, 'requestId'),
      asOf: instant(m.asOf, 'asOf'),
      part,
      parts,
      cards: m.cards.map(entry),
    };
  }
  if (m.type !== 'sync.request') throw shape('type');
  return { type: 'sync.request', requestId: str(m.requestId, ID, 'requestId'), requestedAt: instant(m.requestedAt, 'requestedAt') };
}

/** The JSON form of an entry as the card system writes it (the sandbox and tests use it). */
export function entryToWire(e: { cardNumber: string; status: CardsysStatus; changedAt: Date; seq: bigint | number }) {
  return { cardNumber: e.cardNumber, status: e.status, changedAt: e.changedAt.toISOString(), seq: typeof e.seq === 'bigint' ? e.seq.toString() : e.seq };
}
