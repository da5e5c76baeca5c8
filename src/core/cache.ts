// Balances kept from the core: the shared PostgreSQL table (authoritative), a bounded in-process memory in front, and single-flight core reads.
import { sql } from 'kysely';
import type { Db } from '../db/tx.ts';
import { newest, type KeptBalance } from './freshness.ts';

/** Balances one instance remembers in process; the least recently used goes first. */
export const BALANCE_MEMORY_MAX_ENTRIES = 10_000;
/** Distinct core reads one instance has in flight at once; beyond it callers wait on the core alone. */
export const SINGLE_FLIGHT_MAX_KEYS = 10_000;

/** An int8 column as bigint (PGlite opened in memory may answer an exact number). */
export function int8(v: bigint | number | string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error('int8 value arrived as an inexact number');
  return BigInt(v);
}

export type KeptKind = 'current' | 't1';

export interface KeptKey {
  tenantId: string;
  cardId: string;
  kind: KeptKind;
}

export function keyString(k: KeptKey): string {
  return `${k.kind}\u0000${k.tenantId}\u0000${k.cardId}`;
}

/** The kept balance of a card, if any. */
export async function readKept(db: Db, k: KeptKey): Promise<KeptBalance | undefined> {
  const r = await db
    .selectFrom('core_balance_cache')
    .select(['currency', 'available_fen', 'ledger_fen', 'as_of', 'fetched_at'])
    .where('tenant_id', '=', k.tenantId)
    .where('card_id', '=', k.cardId)
    .where('kind', '=', k.kind)
    .executeTakeFirst();
  if (!r) return undefined;
  return { availableFen: int8(r.available_fen), ledgerFen: int8(r.ledger_fen), currency: r.currency, asOf: r.as_of, fetchedAt: r.fetched_at };
}

/**
 * Keeps a value unless the table already has a later one (by the core's instant, then by fetch
 * time): two instances refreshing at once never let the older answer win.
 */
export async function keepBalance(db: Db, k: KeptKey, v: KeptBalance, source: 'read' | 'catch_up'): Promise<void> {
  await db
    .insertInto('core_balance_cache')
    .values({
      tenant_id: k.tenantId,
      card_id: k.cardId,
      kind: k.kind,
      currency: v.currency,
      available_fen: v.availableFen,
      ledger_fen: v.ledgerFen,
      as_of: v.asOf,
      fetched_at: v.fetchedAt,
      source,
    })
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'card_id', 'kind'])
        .doUpdateSet({
          currency: sql`excluded.currency`,
          available_fen: sql`excluded.available_fen`,
          ledger_fen: sql`excluded.ledger_fen`,
          as_of: sql`excluded.as_of`,
          fetched_at: sql`excluded.fetched_at`,
          source: sql`excluded.source`,
        })
        .where(sql<boolean>`core_balance_cache.as_of < excluded.as_of or (core_balance_cache.as_of = excluded.as_of and core_balance_cache.fetched_at <= excluded.fetched_at)`),
    )
    .execute();
}

/**
 * An in-process LRU of kept balances. It only ever saves a round trip: a value is served from it
 * under the same freshness rule as from the table, and a fallback takes the newer of it and the
 * table, so an instance never prefers its memory over what another instance (or catch-up) wrote.
 */
export class BalanceMemory {
  private readonly entries = new Map<string, KeptBalance>();

  constructor(private readonly maxEntries = BALANCE_MEMORY_MAX_ENTRIES) {}

  get(key: string): KeptBalance | undefined {
    const v = this.entries.get(key);
    if (v) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  /** Remembers `v` unless a later value is already remembered. */
  set(key: string, v: KeptBalance): void {
    const kept = newest(this.entries.get(key), v)!;
    this.entries.delete(key);
    this.entries.set(key, kept);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Concurrent reads of one card on one instance share a single core call: a burst of balance
 * queries for a card costs the core one request, and its answer goes to every waiter.
 */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  constructor(private readonly maxKeys = SINGLE_FLIGHT_MAX_KEYS) {}

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) return existing;
    if (this.inflight.size >= this.maxKeys) return fn();
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}
