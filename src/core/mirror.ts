// SQL of the transaction mirror (external-core postings kept once by core id) and the per-card sync cursors catch-up works from.
import { sql } from 'kysely';
import type { Db } from '../db/tx.ts';
import { int8 } from './cache.ts';
import { MAX_TRANSACTIONS_PAGE, type CoreTransaction, type Direction } from './port.ts';

/** Longest error text kept on a sync cursor. */
const LAST_ERROR_MAX_CHARS = 500;

/**
 * Mirrors the posted transactions of a page (holds come and go, so they are not kept); one row per
 * core transaction id, so repeating a page or catching up over it adds nothing. Returns how many
 * were new.
 */
export async function mirrorTransactions(
  db: Db,
  tenantId: string,
  cardId: string,
  items: readonly CoreTransaction[],
  source: 'read' | 'catch_up',
  now: Date,
): Promise<number> {
  const posted = items.filter((t) => t.state === 'posted');
  if (posted.length === 0) return 0;
  if (posted.length > MAX_TRANSACTIONS_PAGE) throw new Error(`mirror at most ${MAX_TRANSACTIONS_PAGE} transactions at once`);
  const rows = await db
    .insertInto('core_transactions')
    .values(
      posted.map((t) => ({
        tenant_id: tenantId,
        card_id: cardId,
        core_txn_id: t.id,
        booked_at: t.bookedAt,
        amount_fen: t.amountFen,
        currency: t.currency,
        direction: t.direction,
        counterparty: t.counterparty,
        description: t.description,
        balance_after_fen: t.balanceAfterFen,
        source,
        recorded_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['tenant_id', 'card_id', 'core_txn_id']).doNothing())
    .returning('seq')
    .execute();
  return rows.length;
}

/** A position in the mirror: the last item served, in (bookedAt, seq) descending order. */
export interface MirrorPosition {
  bookedAt: Date;
  seq: bigint;
}

export interface MirrorQuery {
  tenantId: string;
  cardId: string;
  from?: Date;
  to?: Date;
  direction?: Direction;
  after?: MirrorPosition;
  limit: number;
}

/** One page of the mirror, newest first; `last` is where the next page starts. */
export async function mirroredPage(db: Db, q: MirrorQuery): Promise<{ items: CoreTransaction[]; last: MirrorPosition | undefined; more: boolean }> {
  let query = db
    .selectFrom('core_transactions')
    .select(['seq', 'core_txn_id', 'booked_at', 'amount_fen', 'currency', 'direction', 'counterparty', 'description', 'balance_after_fen'])
    .where('tenant_id', '=', q.tenantId)
    .where('card_id', '=', q.cardId);
  if (q.from) query = query.where('booked_at', '>=', q.from);
  if (q.to) query = query.where('booked_at', '<=', q.to);
  if (q.direction) query = query.where('direction', '=', q.direction);
  if (q.after) query = query.where(sql<boolean>`(booked_at, seq) < (${q.after.bookedAt}, ${q.after.seq})`);
  const rows = await query.orderBy('booked_at', 'desc').orderBy('seq', 'desc').limit(q.limit + 1).execute();
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  const lastRow = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.core_txn_id,
      bookedAt: r.booked_at,
      amountFen: int8(r.amount_fen),
      currency: r.currency,
      direction: r.direction,
      counterparty: r.counterparty,
      description: r.description,
      balanceAfterFen: r.balance_after_fen === null ? null : int8(r.balance_after_fen),
      state: 'posted' as const,
    })),
    last: lastRow ? { bookedAt: lastRow.booked_at, seq: int8(lastRow.seq) } : undefined,
    more,
  };
}

/** How many times each core transaction id of a card is mirrored (tests and reconciliation). */
export async function mirroredIds(db: Db, tenantId: string, cardId: string): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('core_transactions')
    .select(['core_txn_id', sql<string>`count(*)`.as('n')])
    .where('tenant_id', '=', tenantId)
    .where('card_id', '=', cardId)
    .groupBy('core_txn_id')
    .execute();
  return new Map(rows.map((r) => [r.core_txn_id, Number(r.n)]));
}

// ---- sync cursors ----------------------------------------------------------------------------

export interface SyncState {
  tenantId: string;
  cardId: string;
  dirtySince: Date | null;
  syncedThrough: Date | null;
  mirroredAt: Date | null;
  lastCaughtUpAt: Date | null;
  lastError: string | null;
}

type SyncRow = {
  tenant_id: string;
  card_id: string;
  dirty_since: Date | null;
  synced_through: Date | null;
  mirrored_at: Date | null;
  last_caught_up_at: Date | null;
  last_error: string | null;
};

function toSync(r: SyncRow): SyncState {
  return {
    tenantId: r.tenant_id,
    cardId: r.card_id,
    dirtySince: r.dirty_since,
    syncedThrough: r.synced_through,
    mirroredAt: r.mirrored_at,
    lastCaughtUpAt: r.last_caught_up_at,
    lastError: r.last_error,
  };
}

const SYNC_COLUMNS = ['tenant_id', 'card_id', 'dirty_since', 'synced_through', 'mirrored_at', 'last_caught_up_at', 'last_error'] as const;

export async function syncState(db: Db, tenantId: string, cardId: string): Promise<SyncState | undefined> {
  const r = await db.selectFrom('core_sync_cursors').select(SYNC_COLUMNS).where('tenant_id', '=', tenantId).where('card_id', '=', cardId).executeTakeFirst();
  return r ? toSync(r) : undefined;
}

/** Records that the card missed the core from `now` on (an earlier mark is kept). */
export async function markDirty(db: Db, tenantId: string, cardId: string, now: Date): Promise<void> {
  await db
    .insertInto('core_sync_cursors')
    .values({ tenant_id: tenantId, card_id: cardId, dirty_since: now, updated_at: now })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'card_id']).doUpdateSet({
        dirty_since: sql`coalesce(core_sync_cursors.dirty_since, excluded.dirty_since)`,
        updated_at: sql`excluded.updated_at`,
      }),
    )
    .execute();
}

/** Records that a statement page read from the core was mirrored at `now`. */
export async function noteMirrored(db: Db, tenantId: string, cardId: string, now: Date): Promise<void> {
  await db
    .insertInto('core_sync_cursors')
    .values({ tenant_id: tenantId, card_id: cardId, mirrored_at: now, updated_at: now })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'card_id']).doUpdateSet({
        mirrored_at: sql`greatest(core_sync_cursors.mirrored_at, excluded.mirrored_at)`,
        updated_at: sql`excluded.updated_at`,
      }),
    )
    .execute();
}

/**
 * Marks as having missed the core every card whose balance wecard kept since `followedSince` (the
 * cards in use when the core went away), at most `limit` of them, most recently read first. A card
 * already marked keeps its earlier mark. Returns how many rows were written.
 */
export async function markFollowedDirty(db: Db, q: { followedSince: Date; dirtySince: Date; now: Date; limit: number }): Promise<number> {
  const r = await sql`
    insert into core_sync_cursors (tenant_id, card_id, dirty_since, updated_at)
    select f.tenant_id, f.card_id, ${q.dirtySince}, ${q.now}
    from (
      select tenant_id, card_id from core_balance_cache
      where fetched_at >= ${q.followedSince}
      group by tenant_id, card_id
      order by max(fetched_at) desc
      limit ${q.limit}
    ) f
    on conflict (tenant_id, card_id) do update
      set dirty_since = coalesce(core_sync_cursors.dirty_since, excluded.dirty_since), updated_at = excluded.updated_at`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}

/** Cards that missed the core, the longest-waiting first. */
export async function dirtyCards(db: Db, limit: number): Promise<SyncState[]> {
  const rows = await db
    .selectFrom('core_sync_cursors')
    .select(SYNC_COLUMNS)
    .where('dirty_since', 'is not', null)
    .orderBy('dirty_since')
    .orderBy('tenant_id')
    .orderBy('card_id')
    .limit(limit)
    .execute();
  return rows.map(toSync);
}

/**
 * Marks a card caught up through `syncedThrough`. The dirty mark is cleared only if it is still
 * the one catch-up started from: a read that failed meanwhile keeps the card for the next run.
 */
export async function finishCatchUp(db: Db, s: SyncState, syncedThrough: Date, now: Date, error: string | null = null): Promise<void> {
  const keepDirty = s.dirtySince === null ? sql<Date | null>`dirty_since` : sql<Date | null>`case when dirty_since = ${s.dirtySince} then null else dirty_since end`;
  await db
    .updateTable('core_sync_cursors')
    .set({
      dirty_since: keepDirty,
      synced_through: sql`greatest(synced_through, ${syncedThrough})`,
      mirrored_at: sql`greatest(mirrored_at, ${now})`,
      last_caught_up_at: now,
      last_error: error === null ? null : error.slice(0, LAST_ERROR_MAX_CHARS),
      updated_at: now,
    })
    .where('tenant_id', '=', s.tenantId)
    .where('card_id', '=', s.cardId)
    .execute();
}

/** What catch-up still has to do (the ops console and metrics). */
export async function catchUpBacklog(db: Db): Promise<{ dirtyCards: number; oldestDirtySince: Date | null }> {
  const r = await db
    .selectFrom('core_sync_cursors')
    .select([sql<string>`count(*)`.as('n'), sql<Date | null>`min(dirty_since)`.as('oldest')])
    .where('dirty_since', 'is not', null)
    .executeTakeFirstOrThrow();
  return { dirtyCards: Number(r.n), oldestDirtySince: r.oldest === null ? null : new Date(r.oldest) };
}
