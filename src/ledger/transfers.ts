// The ledger's write use cases: accounts, transfers (single and batched), holds posted or voided, reversals.
import { AppError, type FieldError } from '../app/errors.ts';
import { sqlState, type Tx } from '../db/tx.ts';
import { newId } from '../shared/ids.ts';
import type { LedgerAccount, LedgerAccountKind, PostPendingInput, ReverseInput, Transfer, TransferInput, TransferResult, VoidPendingInput } from './model.ts';
import {
  addTotals,
  idempotencyConflict,
  keepsFunds,
  MAX_TRANSFER_BATCH,
  postingsOf,
  totalsChange,
  transferDiff,
  validateAccountInput,
  validateAmountIfGiven,
  validateLinkInput,
  validateTransferInput,
  type PostingPlan,
  type TransferRequest,
} from './policy.ts';
import {
  bookRows,
  findByIdempotency,
  findResolution,
  findReversal,
  getTransfer,
  insertAccount,
  lockAccounts,
  type LockedAccount,
} from './store.ts';

/** Opens an account with zero totals. The code is unique per tenant: a second one is a `conflict`. */
export async function createAccount(
  tx: Tx,
  input: { tenantId: string; code: string; name: string; currency: string; kind: LedgerAccountKind; noOverdraft?: boolean; now?: Date },
): Promise<LedgerAccount> {
  validateAccountInput(input);
  const account = await insertAccount(tx, {
    id: newId('la'),
    tenantId: input.tenantId,
    code: input.code,
    name: input.name,
    currency: input.currency,
    kind: input.kind,
    noOverdraft: input.noOverdraft ?? false,
    now: input.now ?? new Date(),
  });
  if (!account) throw new AppError('conflict', `tenant ${input.tenantId} already has a ledger account ${JSON.stringify(input.code)}`);
  return account;
}

function insufficient(accountId: string, amountFen: bigint): AppError {
  // Never the balance itself: it is C2 data and errors end up in logs.
  return new AppError('insufficient_funds', `account ${accountId} cannot cover ${amountFen} fen`);
}

/** Latest of two instants: a resolution or reversal is never booked before what it resolves. */
function notBefore(now: Date, earliest: Date): Date {
  return now.getTime() >= earliest.getTime() ? now : earliest;
}

/** Applies planned postings to the locked totals, refusing any that would overdraw a no-overdraft account. */
function applyToLocked(locked: Map<string, LockedAccount>, postings: readonly PostingPlan[], amountFen: bigint): void {
  for (const [accountId, change] of totalsChange(postings)) {
    const a = locked.get(accountId)!;
    if (!keepsFunds(a.account.noOverdraft, a.totals, change)) throw insufficient(accountId, amountFen);
    a.totals = addTotals(a.totals, change);
  }
}

/**
 * Stores fresh transfers with their postings and adds their changes to the cached totals, all in
 * the caller's transaction. When another transaction booked one of the idempotency ids first, the
 * stored transfer is compared with the request: `diff` names what differs. A single transfer that
 * matches becomes a replay; otherwise the whole call fails and the caller's transaction rolls back.
 */
async function store(tx: Tx, fresh: readonly Transfer[], postings: readonly PostingPlan[], diff: (stored: Transfer, index: number) => string[]): Promise<Transfer | undefined>;
/** `unseen`: planned without reading earlier bookings; answers 'booked_before' (nothing written) when there was one. */
async function store(
  tx: Tx,
  fresh: readonly Transfer[],
  postings: readonly PostingPlan[],
  diff: (stored: Transfer, index: number) => string[],
  opts: { unseen: true },
): Promise<Transfer | undefined | 'booked_before'>;
async function store(
  tx: Tx,
  fresh: readonly Transfer[],
  postings: readonly PostingPlan[],
  diff: (stored: Transfer, index: number) => string[],
  opts: { unseen?: boolean } = {},
): Promise<Transfer | undefined | 'booked_before'> {
  if (fresh.length === 0) return undefined;
  let inserted: Set<string>;
  try {
    // Postings and totals are written in the same statement, only when every transfer went in.
    const r = await bookRows(tx, fresh, postings, totalsChange(postings), fresh.reduce((m, t) => (t.createdAt > m ? t.createdAt : m), fresh[0]!.createdAt));
    // Planned without looking for earlier bookings: one of the ids was booked before, and nothing was written.
    if (opts.unseen && r.bookedBefore) return 'booked_before';
    inserted = r.inserted;
  } catch (err) {
    // The one-resolution and one-reversal indexes: only reachable if a caller skipped the account locks.
    if (sqlState(err) === '23505') throw new AppError('conflict', 'the hold was resolved or the transfer reversed by another request');
    throw err;
  }
  if (inserted.size !== fresh.length) {
    for (const [i, t] of fresh.entries()) {
      if (inserted.has(t.id)) continue;
      const stored = (await findByIdempotency(tx, t.tenantId, [t.idempotencyId])).get(t.idempotencyId);
      if (!stored) throw new AppError('conflict', `transfer ${JSON.stringify(t.idempotencyId)} could not be booked; retry`);
      const d = diff(stored, i);
      if (d.length > 0) throw idempotencyConflict(t.idempotencyId, d);
      // Nothing was written yet for a lone transfer: answer with the one the other request booked.
      if (fresh.length === 1) return stored;
      throw new AppError('conflict', `transfer ${JSON.stringify(t.idempotencyId)} was booked concurrently by another request; retry the batch`);
    }
  }
  return undefined;
}

/**
 * Books transfers in order under one lock set. Each request is checked as if booked alone after
 * the ones before it (a no-overdraft account may spend what an earlier transfer of the batch paid
 * in). An idempotency id seen before, in the database or earlier in the batch, is a replay when
 * every field matches and an `idempotency_conflict` otherwise; any error books nothing.
 */
async function bookTransfers(tx: Tx, inputs: readonly TransferInput[]): Promise<TransferResult[]> {
  if (inputs.length > MAX_TRANSFER_BATCH) throw AppError.validation([{ field: 'inputs', message: `at most ${MAX_TRANSFER_BATCH} transfers per call` }]);
  const prefix = (i: number) => (inputs.length > 1 ? `[${i}].` : '');
  const reqs = inputs.map((x, i) => validateTransferInput(x, prefix(i)));
  const locked = await lockAccounts(
    tx,
    reqs.flatMap((r) => [r.debitAccountId, r.creditAccountId]),
  );

  const errors: FieldError[] = [];
  const idsByTenant = new Map<string, string[]>();
  for (const [i, r] of reqs.entries()) {
    const d = locked.get(r.debitAccountId);
    const c = locked.get(r.creditAccountId);
    if (!d) errors.push({ field: `${prefix(i)}debitAccountId`, message: 'no such account' });
    if (!c) errors.push({ field: `${prefix(i)}creditAccountId`, message: 'no such account' });
    if (!d || !c) continue;
    if (d.account.tenantId !== c.account.tenantId) errors.push({ field: `${prefix(i)}creditAccountId`, message: 'belongs to another tenant than the debit account' });
    else if (d.account.currency !== c.account.currency) errors.push({ field: `${prefix(i)}creditAccountId`, message: 'is in another currency than the debit account' });
    const ids = idsByTenant.get(d.account.tenantId) ?? [];
    ids.push(r.idempotencyId);
    idsByTenant.set(d.account.tenantId, ids);
  }
  if (errors.length > 0) throw AppError.validation(errors);

  // Most calls book ids never booked before: planned first as if none was, and written by a
  // statement that writes nothing when one was after all. Then, or when that plan is refused (an
  // overdraft a replay would not have made), the earlier bookings are read and the plan made again
  // from the totals as locked: the outcome is the same, one round trip later.
  const asLocked = new Map([...locked].map(([id, a]) => [id, a.totals]));
  let optimistic: Plan | undefined;
  try {
    optimistic = plan(reqs, locked, new Map());
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
  }
  if (optimistic) {
    const stored = await store(tx, optimistic.fresh, optimistic.postings, (s, i) => transferDiff(s, optimistic.freshReqs[i]!), { unseen: true });
    if (stored !== 'booked_before') return stored ? [{ transfer: stored, replayed: true }] : optimistic.results;
  }
  for (const [id, totals] of asLocked) locked.get(id)!.totals = totals;

  const seen = new Map<string, Transfer>();
  for (const [tenantId, ids] of idsByTenant) {
    for (const [idem, t] of await findByIdempotency(tx, tenantId, ids)) seen.set(`${tenantId}\u0000${idem}`, t);
  }
  const careful = plan(reqs, locked, seen);
  const stored = await store(tx, careful.fresh, careful.postings, (s, i) => transferDiff(s, careful.freshReqs[i]!));
  return stored ? [{ transfer: stored, replayed: true }] : careful.results;
}

interface Plan {
  results: TransferResult[];
  fresh: Transfer[];
  freshReqs: TransferRequest[];
  postings: PostingPlan[];
}

/**
 * The transfers `reqs` book, in order, given the earlier bookings `seen` (replays and conflicts):
 * each checked against the locked totals as the ones before it left them (updated in place).
 */
function plan(reqs: readonly TransferRequest[], locked: Map<string, LockedAccount>, seen: Map<string, Transfer>): Plan {
  const results: TransferResult[] = [];
  const fresh: Transfer[] = [];
  const freshReqs: TransferRequest[] = [];
  const postings: PostingPlan[] = [];
  for (const r of reqs) {
    const debit = locked.get(r.debitAccountId)!.account;
    const key = `${debit.tenantId}\u0000${r.idempotencyId}`;
    const prior = seen.get(key);
    if (prior) {
      const d = transferDiff(prior, r);
      if (d.length > 0) throw idempotencyConflict(r.idempotencyId, d);
      results.push({ transfer: prior, replayed: true });
      continue;
    }
    const t: Transfer = {
      id: newId('tr'),
      idempotencyId: r.idempotencyId,
      tenantId: debit.tenantId,
      debitAccountId: r.debitAccountId,
      creditAccountId: r.creditAccountId,
      amountFen: r.amountFen,
      currency: debit.currency,
      kind: r.kind,
      description: r.description,
      counterparty: r.counterparty,
      state: r.pending ? 'pending' : 'posted',
      pendingId: null,
      reversesId: null,
      bookedAt: r.bookedAt,
      createdAt: r.now,
      metadata: r.metadata,
    };
    const ps = postingsOf(t);
    applyToLocked(locked, ps, t.amountFen);
    seen.set(key, t);
    fresh.push(t);
    freshReqs.push(r);
    postings.push(...ps);
    results.push({ transfer: t, replayed: false });
  }
  return { results, fresh, freshReqs, postings };
}

/** Replay with identical fields → { transfer: original, replayed: true }; same id, different fields → AppError('idempotency_conflict'). */
export async function transfer(tx: Tx, input: TransferInput): Promise<TransferResult> {
  return (await bookTransfers(tx, [input]))[0]!;
}

/**
 * For bulk imports (demo seed, 补登 catch-up): many transfers in one call, same rules, faster —
 * one lock statement, batched inserts and one totals update per account. Returns one transfer per
 * input, in order (a replay gives the original).
 */
export async function transferMany(tx: Tx, inputs: TransferInput[]): Promise<Transfer[]> {
  return (await bookTransfers(tx, inputs)).map((r) => r.transfer);
}

/** Books one transfer that links to `target` (a hold's resolution or a reversal) after the usual checks. */
async function bookLinked(tx: Tx, t: Transfer, holdAmountFen: bigint | undefined, locked: Map<string, LockedAccount>, diff: (stored: Transfer) => string[]): Promise<TransferResult> {
  const ps = postingsOf(t, holdAmountFen);
  applyToLocked(locked, ps, t.amountFen);
  const stored = await store(tx, [t], ps, (s) => diff(s));
  return stored ? { transfer: stored, replayed: true } : { transfer: t, replayed: false };
}

async function resolveHold(tx: Tx, input: PostPendingInput | VoidPendingInput, op: 'posted' | 'voided'): Promise<TransferResult> {
  validateLinkInput(input, { field: 'pendingId', value: input.pendingId });
  const amountFen = op === 'posted' ? (input as PostPendingInput).amountFen : undefined;
  validateAmountIfGiven(amountFen);
  const hold = await getTransfer(tx, input.pendingId);
  if (!hold) throw new AppError('not_found', `no transfer ${input.pendingId}`);
  const locked = await lockAccounts(tx, [hold.debitAccountId, hold.creditAccountId]);
  const diff = (s: Transfer): string[] => {
    const d: string[] = [];
    if (s.pendingId !== hold.id) d.push('pendingId');
    if (s.state !== op) d.push('operation');
    else if (op === 'posted' && s.amountFen !== (amountFen ?? hold.amountFen)) d.push('amountFen');
    return d;
  };
  const prior = (await findByIdempotency(tx, hold.tenantId, [input.idempotencyId])).get(input.idempotencyId);
  if (prior) {
    const d = diff(prior);
    if (d.length > 0) throw idempotencyConflict(input.idempotencyId, d);
    return { transfer: prior, replayed: true };
  }
  if (hold.state !== 'pending') throw new AppError('conflict', `transfer ${hold.id} is not a hold`);
  const resolution = await findResolution(tx, hold.id);
  if (resolution) throw new AppError('conflict', `hold ${hold.id} was already ${resolution.state}`);
  const postFen = amountFen ?? hold.amountFen;
  if (postFen > hold.amountFen) throw AppError.validation([{ field: 'amountFen', message: 'must not exceed the held amount' }]);
  const t: Transfer = {
    ...hold,
    id: newId('tr'),
    idempotencyId: input.idempotencyId,
    amountFen: postFen,
    state: op,
    pendingId: hold.id,
    reversesId: null,
    bookedAt: notBefore(input.now, hold.bookedAt),
    createdAt: input.now,
    metadata: null,
  };
  return bookLinked(tx, t, hold.amountFen, locked, diff);
}

/** Posts a hold, whole or in part (`amountFen` ≤ the hold); the rest of the hold is released. */
export async function postPending(tx: Tx, input: PostPendingInput): Promise<TransferResult> {
  return resolveHold(tx, input, 'posted');
}

/** Releases a hold without moving money. */
export async function voidPending(tx: Tx, input: VoidPendingInput): Promise<TransferResult> {
  return resolveHold(tx, input, 'voided');
}

/**
 * Undoes a posted transfer with a new one in the opposite direction, linked by `reversesId`. Holds
 * are voided instead; a reversal is not reversed again (book a new transfer); a transfer is
 * reversed at most once. A no-overdraft account that has spent the money refuses the reversal.
 */
export async function reverse(tx: Tx, input: ReverseInput): Promise<TransferResult> {
  validateLinkInput(input, { field: 'transferId', value: input.transferId }, { value: input.reason });
  const original = await getTransfer(tx, input.transferId);
  if (!original) throw new AppError('not_found', `no transfer ${input.transferId}`);
  const locked = await lockAccounts(tx, [original.debitAccountId, original.creditAccountId]);
  const diff = (s: Transfer): string[] => {
    const d: string[] = [];
    if (s.reversesId !== original.id) d.push('transferId');
    if (s.description !== input.reason) d.push('reason');
    return d;
  };
  const prior = (await findByIdempotency(tx, original.tenantId, [input.idempotencyId])).get(input.idempotencyId);
  if (prior) {
    const d = diff(prior);
    if (d.length > 0) throw idempotencyConflict(input.idempotencyId, d);
    return { transfer: prior, replayed: true };
  }
  if (original.state === 'pending') throw new AppError('conflict', `transfer ${original.id} is a hold: void it instead`);
  if (original.state === 'voided') throw new AppError('conflict', `transfer ${original.id} voided a hold and moved no money`);
  if (original.reversesId !== null) throw new AppError('conflict', `transfer ${original.id} is a reversal; book a new transfer instead`);
  const already = await findReversal(tx, original.id);
  if (already) throw new AppError('conflict', `transfer ${original.id} was already reversed by ${already.id}`);
  const t: Transfer = {
    id: newId('tr'),
    idempotencyId: input.idempotencyId,
    tenantId: original.tenantId,
    debitAccountId: original.creditAccountId,
    creditAccountId: original.debitAccountId,
    amountFen: original.amountFen,
    currency: original.currency,
    kind: 'reversal',
    description: input.reason,
    counterparty: original.counterparty,
    state: 'posted',
    pendingId: null,
    reversesId: original.id,
    bookedAt: notBefore(input.now, original.bookedAt),
    createdAt: input.now,
    metadata: null,
  };
  return bookLinked(tx, t, undefined, locked, diff);
}

