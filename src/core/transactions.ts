// Statements through the port: live pages from the core, mirrored for an external core, served from the mirror (stale) while it is down.
import type { AppContext } from '../app/context.ts';
import { AppError, type FieldError } from '../app/errors.ts';
import { mirroredPage, mirrorTransactions, noteMirrored, syncState, type MirrorPosition } from './mirror.ts';
import { DEFAULT_TRANSACTIONS_PAGE, isCoreDown, MAX_TRANSACTIONS_PAGE, type CardKey, type CoreBanking, type CoreTransaction, type Direction } from './port.ts';
import { coreOf, runtimeOf } from './runtime.ts';
import { coreErrorToApp, noteMissed } from './service.ts';

/** Cursors we hand out stay short enough for a URL. */
export const MAX_CURSOR_CHARS = 800;
/** One instance records a card's mirrored statement read at most this often. */
export const MIRROR_NOTE_INTERVAL_MS = 5_000;

export interface ReadTransactionsInput {
  tenantId: string;
  card: CardKey;
  from?: Date;
  to?: Date;
  cursor?: string;
  limit?: number;
  direction?: Direction;
  now: Date;
}

export interface TransactionsAnswer {
  items: CoreTransaction[];
  nextCursor: string | null;
  /** Now for a live page; for a mirrored page, when the mirror was last filled from the core. */
  asOf: Date;
  stale: boolean;
  source: 'core' | 'mirror';
}

type Decoded = { kind: 'core'; cursor: string } | { kind: 'mirror'; at: MirrorPosition };

const badCursor = () => AppError.validation([{ field: 'cursor', message: 'is not a cursor this server issued' }]);

// Cursors: `c.` + the core's cursor, or `m.` + a mirror position; both base64url, opaque to clients.
export function encodeCoreCursor(c: string): string {
  return `c.${Buffer.from(c, 'utf8').toString('base64url')}`;
}

export function encodeMirrorCursor(p: MirrorPosition): string {
  return `m.${Buffer.from(`${p.bookedAt.getTime()}:${p.seq}`, 'utf8').toString('base64url')}`;
}

export function decodeCursor(cursor: string): Decoded {
  if (typeof cursor !== 'string' || cursor.length < 3 || cursor.length > MAX_CURSOR_CHARS || !/^[cm]\.[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor();
  const raw = Buffer.from(cursor.slice(2), 'base64url').toString('utf8');
  if (cursor[0] === 'c') {
    if (raw.length === 0) throw badCursor();
    return { kind: 'core', cursor: raw };
  }
  const m = /^(\d{1,15}):([1-9]\d{0,18})$/.exec(raw);
  if (!m) throw badCursor();
  return { kind: 'mirror', at: { bookedAt: new Date(Number(m[1])), seq: BigInt(m[2]!) } };
}

function validate(input: ReadTransactionsInput): number {
  const errors: FieldError[] = [];
  const limit = input.limit ?? DEFAULT_TRANSACTIONS_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TRANSACTIONS_PAGE) errors.push({ field: 'limit', message: `must be an integer from 1 to ${MAX_TRANSACTIONS_PAGE}` });
  for (const f of ['from', 'to'] as const) {
    const d = input[f];
    if (d !== undefined && (!(d instanceof Date) || Number.isNaN(d.getTime()))) errors.push({ field: f, message: 'must be a valid date' });
  }
  if (errors.length === 0 && input.from && input.to && input.from.getTime() > input.to.getTime()) errors.push({ field: 'from', message: 'must not be after to' });
  if (input.direction !== undefined && input.direction !== 'credit' && input.direction !== 'debit') errors.push({ field: 'direction', message: 'must be credit or debit' });
  if (errors.length > 0) throw AppError.validation(errors);
  return limit;
}

async function fromMirror(ctx: AppContext, core: CoreBanking, input: ReadTransactionsInput, limit: number, after: MirrorPosition | undefined): Promise<TransactionsAnswer> {
  const rt = runtimeOf(core);
  const sync = core.remote ? await syncState(ctx.db, input.tenantId, input.card.id) : undefined;
  const asOf = sync?.mirroredAt ?? sync?.lastCaughtUpAt;
  if (!asOf) {
    rt.metrics?.answer('transactions', 'unavailable');
    throw new AppError('core_unavailable', 'core banking is unreachable and no statement of this card is kept');
  }
  const page = await mirroredPage(ctx.db, { tenantId: input.tenantId, cardId: input.card.id, from: input.from, to: input.to, direction: input.direction, after, limit });
  rt.metrics?.answer('transactions', 'mirror');
  return { items: page.items, nextCursor: page.more && page.last ? encodeMirrorCursor(page.last) : null, asOf, stale: true, source: 'mirror' };
}

/**
 * One page of a card's statement, newest first. With the core up, the core's page (an external
 * core's posted transactions are mirrored as they are read). With the core down, the first page
 * comes from the mirror with `stale: true` and mirror cursors, which keep paging in the mirror so
 * a listing never mixes the two; a core cursor while it is down is `core_unavailable` (start over
 * to get the kept statement).
 */
export async function readTransactions(ctx: AppContext, input: ReadTransactionsInput, core: CoreBanking = coreOf(ctx)): Promise<TransactionsAnswer> {
  if (input.card.tenantId !== input.tenantId) throw new AppError('not_found', 'no such card at this institution');
  const limit = validate(input);
  const decoded = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  if (decoded?.kind === 'mirror') {
    if (!core.remote) throw badCursor();
    return fromMirror(ctx, core, input, limit, decoded.at);
  }
  const rt = runtimeOf(core);
  let page;
  try {
    page = await core.transactions(input.card, { from: input.from, to: input.to, cursor: decoded?.cursor, limit, direction: input.direction });
  } catch (err) {
    if (!isCoreDown(err)) throw coreErrorToApp(err);
    await noteMissed(ctx, core, input.tenantId, input.card.id, input.now);
    if (decoded) {
      rt.metrics?.answer('transactions', 'unavailable');
      throw new AppError('core_unavailable', 'core banking became unreachable while paging; start again for the kept statement');
    }
    return fromMirror(ctx, core, input, limit, undefined);
  }
  if (core.remote) await mirrorPage(ctx, core, input, page.items);
  rt.metrics?.answer('transactions', 'core');
  return { items: page.items, nextCursor: page.nextCursor === null ? null : encodeCoreCursor(page.nextCursor), asOf: input.now, stale: false, source: 'core' };
}

async function mirrorPage(ctx: AppContext, core: CoreBanking, input: ReadTransactionsInput, items: CoreTransaction[]): Promise<void> {
  const rt = runtimeOf(core);
  try {
    await mirrorTransactions(ctx.db, input.tenantId, input.card.id, items, 'read', input.now);
    const k = `${input.tenantId}\u0000${input.card.id}`;
    const last = rt.mirroredNotedAt.get(k);
    const t = input.now.getTime();
    if (last === undefined || t - last >= MIRROR_NOTE_INTERVAL_MS || t < last) {
      rt.mirroredNotedAt.set(k, t);
      await noteMirrored(ctx.db, input.tenantId, input.card.id, input.now);
    }
  } catch (err) {
    // The live page is the answer; a failed mirror write only makes a later fallback poorer.
    ctx.log.warn({ err, tenantId: input.tenantId, cardId: input.card.id }, 'could not mirror a statement page');
  }
}
