// The ledger's public face: double-entry accounts, transfers, holds, reversals, balances, history, audit.
export type {
  Balance,
  Entry,
  HistoryOptions,
  HistoryPage,
  LedgerAccount,
  LedgerAccountKind,
  PostPendingInput,
  ReverseInput,
  Totals,
  Transfer,
  TransferInput,
  TransferResult,
  TransferState,
  VoidPendingInput,
} from './model.ts';
export { LEDGER_ACCOUNT_KINDS } from './model.ts';
export { MAX_HISTORY_PAGE, DEFAULT_HISTORY_PAGE, MAX_TRANSFER_FEN, MAX_TRANSFER_BATCH } from './policy.ts';
export { createAccount, transfer, transferMany, postPending, voidPending, reverse } from './transfers.ts';
export { getAccount, findAccountByCode, getTransfer } from './store.ts';
export { getBalance, getBalances, history } from './reads.ts';
export { verifyInvariants, recomputeBalance, type InvariantReport } from './audit.ts';
export type { InvariantName, InvariantViolation } from './invariants.ts';

import type { Db, Tx } from '../db/tx.ts';
import type { Transfer } from './model.ts';
import { findByIdempotency } from './store.ts';

/** The transfer a tenant booked under an idempotency id, if any (reconciliation looks requests up by it). */
export async function findTransferByIdempotencyId(db: Db | Tx, tenantId: string, idempotencyId: string): Promise<Transfer | undefined> {
  return (await findByIdempotency(db, tenantId, [idempotencyId])).get(idempotencyId);
}
