// Pure ledger rules: input limits and validation, replay comparison, balance arithmetic, history cursors.
import { AppError, type FieldError } from '../app/errors.ts';
import { LEDGER_ACCOUNT_KINDS, ZERO_TOTALS, type Balance, type LedgerAccountKind, type Totals, type Transfer, type TransferInput } from './model.ts';

/** Largest page `history` returns (API.md: list limits are at most 100). */
export const MAX_HISTORY_PAGE = 100;
export const DEFAULT_HISTORY_PAGE = 20;
/** One transfer's ceiling: 10^15 fen (10 trillion yuan) keeps every int8 running total far from overflow. */
export const MAX_TRANSFER_FEN = 1_000_000_000_000_000n;
/** Inputs one `transferMany` call accepts: bounds the memory and the lock set of one transaction. */
export const MAX_TRANSFER_BATCH = 20_000;
export const MAX_IDEMPOTENCY_ID_CHARS = 128;
/** Account and transfer ids are `la_…`/`tr_…` (29 characters); anything far longer is not one. */
export const MAX_ID_CHARS = 64;
export const MAX_KIND_CHARS = 40;
export const MAX_DESCRIPTION_CHARS = 200;
export const MAX_COUNTERPARTY_CHARS = 200;
export const MAX_METADATA_BYTES = 4_096;
export const MAX_ACCOUNT_CODE_CHARS = 64;
export const MAX_ACCOUNT_NAME_CHARS = 100;
export const MAX_TENANT_ID_CHARS = 64;

// C0/C1 controls would corrupt statements and log lines; tabs and newlines included.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const CURRENCY = /^[A-Z]{3}$/;

/** A transfer request after validation: every optional field settled. */
export interface TransferRequest {
  idempotencyId: string;
  debitAccountId: string;
  creditAccountId: string;
  amountFen: bigint;
  kind: string;
  description: string;
  counterparty: string | null;
  pending: boolean;
  bookedAt: Date;
  /** Whether the caller named the value date (a replay without one matches any). */
  bookedAtGiven: boolean;
  now: Date;
  metadata: Record<string, unknown> | null;
}

function text(errors: FieldError[], field: string, value: unknown, max: number, opts: { empty?: boolean } = {}): string {
  if (typeof value !== 'string') {
    errors.push({ field, message: 'must be a string' });
    return '';
  }
  if (!opts.empty && value.length === 0) errors.push({ field, message: 'must not be empty' });
  else if (value.length > max) errors.push({ field, message: `must be at most ${max} characters` });
  else if (CONTROL_CHARS.test(value)) errors.push({ field, message: 'must not contain control characters' });
  return value;
}

function instant(errors: FieldError[], field: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    errors.push({ field, message: 'must be a valid Date' });
    return new Date(0);
  }
  return value;
}

export function checkAmount(errors: FieldError[], field: string, value: unknown): bigint {
  if (typeof value !== 'bigint') {
    errors.push({ field, message: 'must be a bigint amount in fen' });
    return 0n;
  }
  if (value <= 0n) errors.push({ field, message: 'must be greater than zero' });
  else if (value > MAX_TRANSFER_FEN) errors.push({ field, message: `must be at most ${MAX_TRANSFER_FEN} fen` });
  return value;
}

function fail(errors: FieldError[]): void {
  if (errors.length > 0) throw AppError.validation(errors);
}

/** JSON with sorted keys: two metadata objects are the same when this is equal (jsonb reorders keys). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** Validates one transfer request; `prefix` names its place in a batch (e.g. `[3].`). */
export function validateTransferInput(input: TransferInput, prefix = ''): TransferRequest {
  const errors: FieldError[] = [];
  const f = (name: string) => `${prefix}${name}`;
  const idempotencyId = text(errors, f('idempotencyId'), input.idempotencyId, MAX_IDEMPOTENCY_ID_CHARS);
  const debitAccountId = text(errors, f('debitAccountId'), input.debitAccountId, MAX_ID_CHARS);
  const creditAccountId = text(errors, f('creditAccountId'), input.creditAccountId, MAX_ID_CHARS);
  if (debitAccountId && debitAccountId === creditAccountId) errors.push({ field: f('creditAccountId'), message: 'must differ from the debit account' });
  const amountFen = checkAmount(errors, f('amountFen'), input.amountFen);
  const kind = text(errors, f('kind'), input.kind, MAX_KIND_CHARS);
  const description = text(errors, f('description'), input.description, MAX_DESCRIPTION_CHARS, { empty: true });
  const counterparty = input.counterparty === undefined || input.counterparty === null ? null : text(errors, f('counterparty'), input.counterparty, MAX_COUNTERPARTY_CHARS, { empty: true });
  const now = instant(errors, f('now'), input.now);
  const bookedAt = input.bookedAt === undefined ? now : instant(errors, f('bookedAt'), input.bookedAt);
  let metadata: Record<string, unknown> | null = null;
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) {
      errors.push({ field: f('metadata'), message: 'must be a JSON object' });
    } else {
      let json: string | undefined;
      try {
        json = JSON.stringify(input.metadata);
      } catch {
        errors.push({ field: f('metadata'), message: 'must be JSON-serialisable' });
      }
      if (json !== undefined) {
        if (Buffer.byteLength(json) > MAX_METADATA_BYTES) errors.push({ field: f('metadata'), message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON` });
        // jsonb cannot hold NUL; a round trip also drops undefined members, as the database would.
        else if (json.includes('\\u0000')) errors.push({ field: f('metadata'), message: 'must not contain NUL characters' });
        else metadata = JSON.parse(json) as Record<string, unknown>;
      }
    }
  }
  if (input.pending !== undefined && typeof input.pending !== 'boolean') errors.push({ field: f('pending'), message: 'must be a boolean' });
  fail(errors);
  return {
    idempotencyId,
    debitAccountId,
    creditAccountId,
    amountFen,
    kind,
    description,
    counterparty,
    pending: input.pending === true,
    bookedAt,
    bookedAtGiven: input.bookedAt !== undefined,
    now,
    metadata,
  };
}

/**
 * The fields in which a booked transfer differs from a new request with the same idempotency id
 * (empty: the request is a replay). Only names are returned, never values: they go into errors.
 */
export function transferDiff(t: Transfer, r: TransferRequest): string[] {
  const diff: string[] = [];
  if (t.pendingId !== null || t.reversesId !== null) diff.push('operation');
  if (t.debitAccountId !== r.debitAccountId) diff.push('debitAccountId');
  if (t.creditAccountId !== r.creditAccountId) diff.push('creditAccountId');
  if (t.amountFen !== r.amountFen) diff.push('amountFen');
  if (t.kind !== r.kind) diff.push('kind');
  if (t.description !== r.description) diff.push('description');
  if (t.counterparty !== r.counterparty) diff.push('counterparty');
  if ((t.state === 'pending') !== r.pending) diff.push('pending');
  if (r.bookedAtGiven && t.bookedAt.getTime() !== r.bookedAt.getTime()) diff.push('bookedAt');
  if (canonicalJson(t.metadata) !== canonicalJson(r.metadata)) diff.push('metadata');
  return diff;
}

export function idempotencyConflict(idempotencyId: string, diff: string[]): AppError {
  return new AppError('idempotency_conflict', `idempotency id ${JSON.stringify(idempotencyId)} was already used for a different request (${diff.join(', ')} differ)`);
}

/** Balance convention: credits − debits. */
export function postedOf(t: Totals): bigint {
  return t.postedCreditsFen - t.postedDebitsFen;
}

/** What may still be spent: posted balance less the holds against it. */
export function availableOf(t: Totals): bigint {
  return postedOf(t) - t.pendingDebitsFen;
}

export function toBalance(accountId: string, currency: string, t: Totals, asOf: Date): Balance {
  return {
    accountId,
    currency,
    postedFen: postedOf(t),
    pendingDebitFen: t.pendingDebitsFen,
    pendingCreditFen: t.pendingCreditsFen,
    availableFen: availableOf(t),
    asOf,
  };
}

export function addTotals(a: Totals, b: Totals): Totals {
  return {
    postedDebitsFen: a.postedDebitsFen + b.postedDebitsFen,
    postedCreditsFen: a.postedCreditsFen + b.postedCreditsFen,
    pendingDebitsFen: a.pendingDebitsFen + b.pendingDebitsFen,
    pendingCreditsFen: a.pendingCreditsFen + b.pendingCreditsFen,
  };
}

/** Whether an account may take `change`: a no-overdraft account's available balance must stay ≥ 0. */
export function keepsFunds(noOverdraft: boolean, before: Totals, change: Totals): boolean {
  return !noOverdraft || availableOf(addTotals(before, change)) >= 0n;
}

export function validateAccountInput(input: { tenantId: unknown; code: unknown; name: unknown; currency: unknown; kind: unknown; noOverdraft?: unknown }): void {
  const errors: FieldError[] = [];
  text(errors, 'tenantId', input.tenantId, MAX_TENANT_ID_CHARS);
  text(errors, 'code', input.code, MAX_ACCOUNT_CODE_CHARS);
  text(errors, 'name', input.name, MAX_ACCOUNT_NAME_CHARS);
  if (typeof input.currency !== 'string' || !CURRENCY.test(input.currency)) errors.push({ field: 'currency', message: 'must be an ISO 4217 code such as CNY' });
  if (!LEDGER_ACCOUNT_KINDS.includes(input.kind as LedgerAccountKind)) errors.push({ field: 'kind', message: `must be one of ${LEDGER_ACCOUNT_KINDS.join(', ')}` });
  if (input.noOverdraft !== undefined && typeof input.noOverdraft !== 'boolean') errors.push({ field: 'noOverdraft', message: 'must be a boolean' });
  fail(errors);
}

/** Checks the common fields of post, void and reverse requests. */
export function validateLinkInput(input: { idempotencyId: unknown; now: unknown }, link: { field: string; value: unknown }, reason?: { value: unknown }): void {
  const errors: FieldError[] = [];
  text(errors, 'idempotencyId', input.idempotencyId, MAX_IDEMPOTENCY_ID_CHARS);
  text(errors, link.field, link.value, MAX_ID_CHARS);
  instant(errors, 'now', input.now);
  if (reason) text(errors, 'reason', reason.value, MAX_DESCRIPTION_CHARS);
  fail(errors);
}

export function validateAmountIfGiven(value: unknown): void {
  if (value === undefined) return;
  const errors: FieldError[] = [];
  checkAmount(errors, 'amountFen', value);
  fail(errors);
}

// History cursors: the posting's sequence number, versioned and base64url so clients treat it as opaque.
const CURSOR_PREFIX = 'h1:';

export function encodeCursor(seq: bigint): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): bigint {
  const bad = () => AppError.validation([{ field: 'cursor', message: 'is not a cursor this server issued' }]);
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!raw.startsWith(CURSOR_PREFIX)) throw bad();
  const digits = raw.slice(CURSOR_PREFIX.length);
  if (!/^[1-9][0-9]{0,18}$/.test(digits)) throw bad();
  return BigInt(digits);
}

export interface HistoryQuery {
  from: Date | undefined;
  to: Date | undefined;
  afterSeq: bigint | undefined;
  limit: number;
  direction: 'credit' | 'debit' | undefined;
}

export function validateHistoryOptions(opts: { from?: unknown; to?: unknown; cursor?: unknown; limit?: unknown; direction?: unknown }): HistoryQuery {
  const errors: FieldError[] = [];
  const from = opts.from === undefined ? undefined : instant(errors, 'from', opts.from);
  const to = opts.to === undefined ? undefined : instant(errors, 'to', opts.to);
  if (from && to && errors.length === 0 && from.getTime() > to.getTime()) errors.push({ field: 'from', message: 'must not be after to' });
  const limit = opts.limit === undefined ? DEFAULT_HISTORY_PAGE : opts.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
    errors.push({ field: 'limit', message: `must be an integer from 1 to ${MAX_HISTORY_PAGE}` });
  }
  if (opts.direction !== undefined && opts.direction !== 'credit' && opts.direction !== 'debit') errors.push({ field: 'direction', message: 'must be credit or debit' });
  fail(errors);
  const afterSeq = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor as string);
  return { from, to, afterSeq, limit: limit as number, direction: opts.direction as 'credit' | 'debit' | undefined };
}

/** One movement of one account total, before it is stored. */
export interface PostingPlan {
  transferId: string;
  accountId: string;
  layer: 'posted' | 'pending';
  side: 'debit' | 'credit';
  deltaFen: bigint;
  bookedAt: Date;
}

/**
 * The postings a transfer books: two per layer it touches, debit side first, so every layer of
 * every transfer sums to zero across its two accounts. `holdAmountFen` is the amount of the hold a
 * post or void resolves: the whole hold is released, whatever part of it is posted.
 */
export function postingsOf(t: Pick<Transfer, 'id' | 'debitAccountId' | 'creditAccountId' | 'amountFen' | 'state' | 'pendingId' | 'bookedAt'>, holdAmountFen?: bigint): PostingPlan[] {
  const pair = (layer: 'posted' | 'pending', deltaFen: bigint): PostingPlan[] => [
    { transferId: t.id, accountId: t.debitAccountId, layer, side: 'debit', deltaFen, bookedAt: t.bookedAt },
    { transferId: t.id, accountId: t.creditAccountId, layer, side: 'credit', deltaFen, bookedAt: t.bookedAt },
  ];
  if (t.state === 'pending') return pair('pending', t.amountFen);
  if (t.pendingId === null) return pair('posted', t.amountFen);
  if (holdAmountFen === undefined) throw new Error('resolving a hold needs its amount');
  const release = pair('pending', -holdAmountFen);
  return t.state === 'posted' ? [...release, ...pair('posted', t.amountFen)] : release;
}

/** The change each posting makes to its account's totals, summed per account. */
export function totalsChange(postings: readonly PostingPlan[], into: Map<string, Totals> = new Map()): Map<string, Totals> {
  for (const p of postings) {
    const c = { ...(into.get(p.accountId) ?? ZERO_TOTALS) };
    if (p.layer === 'posted') {
      if (p.side === 'debit') c.postedDebitsFen += p.deltaFen;
      else c.postedCreditsFen += p.deltaFen;
    } else if (p.side === 'debit') c.pendingDebitsFen += p.deltaFen;
    else c.pendingCreditsFen += p.deltaFen;
    into.set(p.accountId, c);
  }
  return into;
}
