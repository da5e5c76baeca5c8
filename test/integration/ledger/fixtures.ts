// Shared set-up for the ledger's integration tests: accounts in a tenant, error-code capture, a fixed clock.
import { expect } from 'vitest';
import { inTx, type Db } from '../../../src/db/tx.ts';
import { AppError, type ErrorCode } from '../../../src/app/errors.ts';
import { createAccount, type LedgerAccount, type LedgerAccountKind } from '../../../src/ledger/index.ts';
import { randomToken } from '../../../src/shared/ids.ts';

export const T0 = new Date('2026-01-05T02:00:00Z');
export const MINUTE_MS = 60_000;
export const at = (minutes: number): Date => new Date(T0.getTime() + minutes * MINUTE_MS);

/** A tenant id no other test uses, so tests can share one database. */
export function freshTenant(): string {
  return `t-${randomToken(6)}`;
}

export async function openAccount(
  db: Db,
  tenantId: string,
  opts: { code?: string; currency?: string; kind?: LedgerAccountKind; noOverdraft?: boolean } = {},
): Promise<LedgerAccount> {
  return inTx(db, (tx) =>
    createAccount(tx, {
      tenantId,
      code: opts.code ?? `acc-${randomToken(6)}`,
      name: 'test account',
      currency: opts.currency ?? 'CNY',
      kind: opts.kind ?? 'customer',
      noOverdraft: opts.noOverdraft ?? false,
      now: T0,
    }),
  );
}

/** Runs `fn`, expects it to fail with an AppError of `code`, and returns the error. */
export async function expectAppError(fn: () => Promise<unknown>, code: ErrorCode): Promise<AppError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected AppError ${code}`).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe(code);
  return caught as AppError;
}
