// The ledger's invariants as pure checks over audited rows (TigerBeetle style): what must always hold.
import type { PostingLayer, PostingSide, TransferState } from './ledger.table.ts';
import type { Totals } from './model.ts';
import { availableOf, postedOf, postingsOf } from './policy.ts';

export type InvariantName =
  /** The cached totals of an account equal the sums of its postings. */
  | 'cached_totals'
  /** Per currency, credits equal debits: the posted balances sum to zero, and so do the holds. */
  | 'zero_sum'
  /** A no-overdraft account's available balance (posted − pending debits) is never below zero. */
  | 'no_overdraft'
  /** No running total is negative (a hold released twice would make one so). */
  | 'non_negative'
  /** Each transfer has exactly the postings its state implies, on its two accounts, at its booking time. */
  | 'double_entry'
  /** A hold's resolution points at a hold and posts no more than it held. */
  | 'hold_resolution';

export interface InvariantViolation {
  invariant: InvariantName;
  /** An account id, transfer id or currency. */
  subject: string;
  detail: string;
}

export interface AccountAudit {
  accountId: string;
  currency: string;
  noOverdraft: boolean;
  cached: Totals;
  /** Summed from the account's postings. */
  computed: Totals;
}

export interface PostingSum {
  accountId: string;
  layer: PostingLayer;
  side: PostingSide;
  deltaFen: bigint;
}

export interface TransferAudit {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amountFen: bigint;
  state: TransferState;
  pendingId: string | null;
  bookedAt: Date;
  /** State and amount of the transfer `pendingId` names (null when there is none). */
  hold: { state: TransferState; amountFen: bigint } | null;
  /** The transfer's postings summed per (account, layer, side). */
  postings: PostingSum[];
  /** Whether every posting carries the transfer's booking time. */
  postingsAtBookedAt: boolean;
}

const TOTAL_NAMES: (keyof Totals)[] = ['postedDebitsFen', 'postedCreditsFen', 'pendingDebitsFen', 'pendingCreditsFen'];

function postingKey(p: { accountId: string; layer: string; side: string }): string {
  return `${p.accountId}/${p.layer}/${p.side}`;
}

function checkTransfer(t: TransferAudit, out: InvariantViolation[]): void {
  const v = (invariant: InvariantName, detail: string) => out.push({ invariant, subject: t.id, detail });
  if (t.pendingId !== null) {
    if (!t.hold) {
      v('hold_resolution', `resolves ${t.pendingId}, which does not exist`);
      return;
    }
    if (t.hold.state !== 'pending') {
      v('hold_resolution', `resolves ${t.pendingId}, which is not a hold`);
      return;
    }
    if (t.state === 'posted' && t.amountFen > t.hold.amountFen) v('hold_resolution', `posts ${t.amountFen} of a ${t.hold.amountFen} hold`);
    if (t.state === 'voided' && t.amountFen !== t.hold.amountFen) v('hold_resolution', `voids ${t.amountFen} of a ${t.hold.amountFen} hold`);
  }
  const expected = new Map<string, bigint>();
  for (const p of postingsOf(t, t.hold?.amountFen)) expected.set(postingKey(p), (expected.get(postingKey(p)) ?? 0n) + p.deltaFen);
  const actual = new Map<string, bigint>();
  for (const p of t.postings) if (p.deltaFen !== 0n) actual.set(postingKey(p), (actual.get(postingKey(p)) ?? 0n) + p.deltaFen);
  for (const k of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(k) ?? 0n;
    const a = actual.get(k) ?? 0n;
    if (e !== a) v('double_entry', `${k}: postings sum to ${a}, the transfer implies ${e}`);
  }
  if (!t.postingsAtBookedAt) v('double_entry', 'a posting carries another booking time than its transfer');
}

/** Every violated invariant over the audited accounts and transfers (empty: the ledger is sound). */
export function checkInvariants(accounts: readonly AccountAudit[], transfers: readonly TransferAudit[]): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  const sums = new Map<string, { cachedPosted: bigint; computedPosted: bigint; cachedHolds: bigint; computedHolds: bigint }>();
  for (const a of accounts) {
    for (const name of TOTAL_NAMES) {
      if (a.cached[name] !== a.computed[name]) out.push({ invariant: 'cached_totals', subject: a.accountId, detail: `${name}: cached ${a.cached[name]}, postings sum to ${a.computed[name]}` });
      if (a.computed[name] < 0n) out.push({ invariant: 'non_negative', subject: a.accountId, detail: `${name} sums to ${a.computed[name]}` });
    }
    if (a.noOverdraft && (availableOf(a.cached) < 0n || availableOf(a.computed) < 0n)) {
      out.push({ invariant: 'no_overdraft', subject: a.accountId, detail: `available ${availableOf(a.computed)} (cached ${availableOf(a.cached)})` });
    }
    const s = sums.get(a.currency) ?? { cachedPosted: 0n, computedPosted: 0n, cachedHolds: 0n, computedHolds: 0n };
    s.cachedPosted += postedOf(a.cached);
    s.computedPosted += postedOf(a.computed);
    s.cachedHolds += a.cached.pendingCreditsFen - a.cached.pendingDebitsFen;
    s.computedHolds += a.computed.pendingCreditsFen - a.computed.pendingDebitsFen;
    sums.set(a.currency, s);
  }
  for (const [currency, s] of sums) {
    if (s.cachedPosted !== 0n || s.computedPosted !== 0n) out.push({ invariant: 'zero_sum', subject: currency, detail: `posted balances sum to ${s.computedPosted} (cached ${s.cachedPosted})` });
    if (s.cachedHolds !== 0n || s.computedHolds !== 0n) out.push({ invariant: 'zero_sum', subject: currency, detail: `holds sum to ${s.computedHolds} (cached ${s.cachedHolds})` });
  }
  for (const t of transfers) checkTransfer(t, out);
  return out;
}
