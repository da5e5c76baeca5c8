// Risk test fixtures: tenants on a preset (with policy overrides) and an AppError expectation helper.
import { expect } from 'vitest';
import type { AppContext } from '../../../src/app/context.ts';
import { AppError } from '../../../src/app/errors.ts';
import { inTx } from '../../../src/db/tx.ts';
import { createTenant, type PolicyPatch, type PresetId, type Tenant } from '../../../src/tenants/index.ts';

export async function makeTenant(ctx: AppContext, id: string, preset: PresetId, policy?: PolicyPatch): Promise<Tenant> {
  return inTx(ctx.db, (tx) =>
    createTenant(tx, ctx.crypto, { id, name: `${id} 银行`, kind: 'bank', preset, ...(policy ? { policy } : {}), now: new Date('2026-01-01T00:00:00Z') }),
  );
}

/** Awaits `p`, expects an AppError with `code`, and returns it for further checks. */
export async function expectAppError(p: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(code);
    return err as AppError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/** Migrating a fresh PGlite takes seconds on a busy machine: setup hooks get this much, not the 10 s default. */
export const SETUP_TIMEOUT_MS = 60_000;
/** Tests that solve a real proof of work (about 2^18 hashes each) on a busy machine. */
export const POW_TEST_TIMEOUT_MS = 60_000;
/** Tests that make dozens of database round trips (PGlite on a busy machine is slow, never wrong). */
export const DB_TEST_TIMEOUT_MS = 30_000;
