// Transaction event types partners can subscribe to, and the pure checks an event passes before it is queued (JSON-safe, bounded, no clear personal data).

/**
 * The events other modules emit (see WEBHOOKS.md for their data):
 * - `topup.*`: a top-up order's life (src/topup), one event per transition;
 * - `ledger.posted`: a transfer posted on a ledger account a partner follows (accounts/ledger use cases).
 */
export const TRANSACTION_EVENT_TYPES = [
  'topup.paid',
  'topup.credited',
  'topup.load_completed',
  'topup.completed',
  'topup.refunded',
  'topup.failed',
  'topup.review',
  'ledger.posted',
] as const;
export type TransactionEventType = (typeof TRANSACTION_EVENT_TYPES)[number];

/** Largest event `data` (JSON bytes): events carry references and amounts, not documents. */
export const WEBHOOK_EVENT_DATA_MAX_BYTES = 16 * 1024;
const SOURCE_KEY = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * Keys that would carry clear C2/C3 data (JR/T 0171-2020). Events give masked forms
 * (`maskedCardNumber`) and internal ids only; a partner that needs the card resolves the id.
 */
const FORBIDDEN_KEYS = new Set(['cardNumber', 'citizenCardNumber', 'idNumber', 'phone', 'reservedPhone', 'holderName', 'paymentPassword', 'otp']);

export interface TransactionEvent {
  tenantId: string;
  type: TransactionEventType;
  /**
   * The producer's idempotency key, unique per tenant (e.g. `topup:<orderId>:credited`,
   * `ledger:<transferId>`): enqueuing the same key again adds nothing.
   */
  sourceKey: string;
  /** The ledger account the event is about, for endpoints restricted to accounts. */
  accountId?: string;
  /** When it happened (the event's `createdAt`). */
  occurredAt: Date;
  /** JSON data; bigint amounts become numbers (or strings beyond 2^53). */
  data: Record<string, unknown>;
}

export class EventError extends Error {
  override name = 'EventError';
}

/** A JSON-safe deep copy: bigint → number (string when unsafe), Date → ISO string; refuses forbidden keys and other types. */
export function jsonSafe(value: unknown, path = 'data', depth = 0): unknown {
  if (depth > 8) throw new EventError(`${path}: nested too deep`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new EventError(`${path}: not a finite number`);
    return value;
  }
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v, i) => jsonSafe(v, `${path}[${i}]`, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (FORBIDDEN_KEYS.has(k)) throw new EventError(`${path}.${k}: events carry masked forms and ids, never clear personal data`);
      if (v !== undefined) out[k] = jsonSafe(v, `${path}.${k}`, depth + 1);
    }
    return out;
  }
  throw new EventError(`${path}: not JSON data`);
}

/** Checks an event and returns its JSON-safe data. Throws EventError (a programming error in the producer). */
export function checkEvent(e: TransactionEvent): Record<string, unknown> {
  if (!(TRANSACTION_EVENT_TYPES as readonly string[]).includes(e.type)) throw new EventError(`unknown event type ${e.type}`);
  if (typeof e.sourceKey !== 'string' || !SOURCE_KEY.test(e.sourceKey)) throw new EventError('sourceKey must be 1–200 of A-Z a-z 0-9 . _ : -');
  if (!(e.occurredAt instanceof Date) || Number.isNaN(e.occurredAt.getTime())) throw new EventError('occurredAt must be a Date');
  if (e.accountId !== undefined && (typeof e.accountId !== 'string' || e.accountId.length > 64)) throw new EventError('accountId must be a ledger account id');
  const data = jsonSafe(e.data) as Record<string, unknown>;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new EventError('data must be an object');
  if (Buffer.byteLength(JSON.stringify(data)) > WEBHOOK_EVENT_DATA_MAX_BYTES) throw new EventError(`data is larger than ${WEBHOOK_EVENT_DATA_MAX_BYTES} bytes`);
  return data;
}
