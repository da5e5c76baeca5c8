// Applies the card system's statuses to the core: status events once per event id, snapshot parts once per part, each card in order of its sequence.
import type { AppContext } from '../../app/context.ts';
import { enqueueJob } from '../../app/jobs.ts';
import { inTx, type Tx } from '../../db/tx.ts';
import { findCardByNumber, setCardStatus, type CardStatus } from '../../core/index.ts';
import { onCardStatusChanged } from '../../identity/index.ts';
import type { CardsysEventOutcome } from '../notify.table.ts';
import { decide } from './policy.ts';
import type { CardStatusEntry, SnapshotPart, StatusEvent } from './wire.ts';

/** The follow-up that takes a cancelled card's channel access away, kept as a job so a crash cannot skip it. */
export const CARD_CANCELLED_TOPIC = 'notify.card-cancelled';

export interface EntryResult {
  outcome: CardsysEventOutcome;
  coreCardId?: string;
  status?: CardStatus;
}

/**
 * One card's status, in the caller's transaction: the per-card row is locked first (two instances
 * may get two events of one card at once), the decision is policy.decide, and a cancellation
 * enqueues the access revocation in the same transaction.
 */
async function applyEntry(tx: Tx, ctx: AppContext, tenantId: string, e: CardStatusEntry, now: Date): Promise<EntryResult> {
  const card = await findCardByNumber(tx, ctx.crypto, tenantId, e.cardNumber);
  if (!card) return { outcome: 'unknown_card' };
  await tx
    .insertInto('notify_cardsys_cards')
    .values({ core_card_id: card.id, tenant_id: tenantId, last_seq: -1n, last_status: '', last_changed_at: new Date(0), updated_at: now })
    .onConflict((oc) => oc.column('core_card_id').doNothing())
    .execute();
  const state = await tx.selectFrom('notify_cardsys_cards').select(['last_seq']).where('core_card_id', '=', card.id).forUpdate().executeTakeFirstOrThrow();
  const lastSeq = BigInt(state.last_seq);
  const d = decide({ entry: e, lastSeq: lastSeq < 0n ? undefined : lastSeq, core: { status: card.status, statusChangedAt: card.statusChangedAt }, now });
  if (d.outcome === 'stale') return { outcome: 'stale', coreCardId: card.id };
  // Every newer sequence is recorded, applied or not, so an older one arriving later stays stale.
  await tx
    .updateTable('notify_cardsys_cards')
    .set({ last_seq: e.seq, last_status: e.status, last_changed_at: e.changedAt, updated_at: now })
    .where('core_card_id', '=', card.id)
    .execute();
  if (d.outcome !== 'apply') {
    if (d.outcome === 'rejected') ctx.log.warn({ tenantId, card: card.maskedNumber, reason: d.reason }, 'card system status refused');
    return { outcome: d.outcome, coreCardId: card.id };
  }
  await setCardStatus(tx, card.id, d.status, e.changedAt);
  if (d.status === 'cancelled') {
    await enqueueJob(tx, { topic: CARD_CANCELLED_TOPIC, payload: { coreCardId: card.id, at: e.changedAt.toISOString() }, dedupeKey: `${CARD_CANCELLED_TOPIC}:${card.id}` });
  }
  return { outcome: 'applied', coreCardId: card.id, status: d.status };
}

/** Revokes a cancelled card's bindings now; the queued job repeats it if this fails (it is idempotent). */
async function revokeNow(ctx: AppContext, coreCardId: string, at: Date): Promise<void> {
  try {
    await onCardStatusChanged(ctx, { coreCardId, status: 'cancelled', at });
  } catch (err) {
    ctx.log.warn({ err, coreCardId }, 'revoking a cancelled card at once failed; the queued job retries');
  }
}

/** Handler of CARD_CANCELLED_TOPIC. */
export async function cardCancelledJob(ctx: AppContext, payload: { coreCardId: string; at: string }): Promise<void> {
  await onCardStatusChanged(ctx, { coreCardId: payload.coreCardId, status: 'cancelled', at: new Date(payload.at) });
}

/** A status event: processed once per (tenant, eventId); a redelivery is `duplicate`. */
export async function processStatusEvent(ctx: AppContext, tenantId: string, ev: StatusEvent, now: Date): Promise<EntryResult | { outcome: 'duplicate' }> {
  const r = await inTx(ctx.db, async (tx) => {
    const first = await tx
      .insertInto('notify_cardsys_events')
      .values({ tenant_id: tenantId, event_id: ev.eventId, received_at: now, outcome: 'applied' })
      .onConflict((oc) => oc.columns(['tenant_id', 'event_id']).doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (!first) return { outcome: 'duplicate' as const };
    const res = await applyEntry(tx, ctx, tenantId, ev, now);
    if (res.outcome !== 'applied') {
      await tx.updateTable('notify_cardsys_events').set({ outcome: res.outcome }).where('tenant_id', '=', tenantId).where('event_id', '=', ev.eventId).execute();
    }
    return res;
  });
  if (r.outcome === 'applied' && r.status === 'cancelled') await revokeNow(ctx, r.coreCardId!, ev.changedAt);
  return r;
}

export interface PartResult {
  duplicate: boolean;
  /** The snapshot is complete with this part. */
  completed: boolean;
  /** Entries newer than what the feed had seen. */
  applied: number;
  /** Entries that changed a card's status: events the feed had missed. */
  drifted: number;
  unknown: number;
}

/**
 * One part of a snapshot. Any instance may get any part (shared subscription), so parts are
 * counted in the database; the part that completes the set marks the tenant's full sync done.
 * Cards are applied one transaction each (a part may hold CARDSYS_SNAPSHOT_PART_MAX of them); a
 * crash midway leaves the part unrecorded, and its redelivery finds the applied cards stale.
 */
export async function processSnapshotPart(ctx: AppContext, tenantId: string, p: SnapshotPart, now: Date): Promise<PartResult> {
  const result: PartResult = { duplicate: false, completed: false, applied: 0, drifted: 0, unknown: 0 };
  const seen = await ctx.db
    .selectFrom('notify_cardsys_sync_parts')
    .select('part')
    .where('tenant_id', '=', tenantId)
    .where('snapshot_id', '=', p.snapshotId)
    .where('part', '=', p.part)
    .executeTakeFirst();
  if (seen) return { ...result, duplicate: true };
  await ctx.db
    .insertInto('notify_cardsys_syncs')
    .values({ tenant_id: tenantId, snapshot_id: p.snapshotId, request_id: p.requestId, parts: p.parts, as_of: p.asOf, started_at: now, completed_at: null })
    .onConflict((oc) => oc.columns(['tenant_id', 'snapshot_id']).doNothing())
    .execute();
  const sync = await ctx.db.selectFrom('notify_cardsys_syncs').select('parts').where('tenant_id', '=', tenantId).where('snapshot_id', '=', p.snapshotId).executeTakeFirstOrThrow();
  if (sync.parts !== p.parts) {
    ctx.log.warn({ tenantId, snapshotId: p.snapshotId }, 'snapshot part disagrees with its snapshot on the number of parts; ignored');
    return { ...result, duplicate: true };
  }

  const cancelled: { coreCardId: string; at: Date }[] = [];
  for (const e of p.cards) {
    const r = await inTx(ctx.db, (tx) => applyEntry(tx, ctx, tenantId, e, now));
    if (r.outcome === 'unknown_card') result.unknown++;
    if (r.outcome !== 'stale' && r.outcome !== 'unknown_card') result.applied++;
    if (r.outcome === 'applied') {
      result.drifted++;
      if (r.status === 'cancelled') cancelled.push({ coreCardId: r.coreCardId!, at: e.changedAt });
    }
  }

  const done = await inTx(ctx.db, async (tx) => {
    const inserted = await tx
      .insertInto('notify_cardsys_sync_parts')
      .values({ tenant_id: tenantId, snapshot_id: p.snapshotId, part: p.part })
      .onConflict((oc) => oc.columns(['tenant_id', 'snapshot_id', 'part']).doNothing())
      .returning('part')
      .executeTakeFirst();
    if (!inserted) return { duplicate: true, completed: false };
    const s = await tx
      .updateTable('notify_cardsys_syncs')
      .set((eb) => ({
        parts_done: eb('parts_done', '+', 1),
        cards: eb('cards', '+', p.cards.length),
        applied: eb('applied', '+', result.applied),
        drifted: eb('drifted', '+', result.drifted),
      }))
      .where('tenant_id', '=', tenantId)
      .where('snapshot_id', '=', p.snapshotId)
      .returning(['parts_done', 'parts', 'drifted', 'completed_at'])
      .executeTakeFirstOrThrow();
    if (s.parts_done < s.parts || s.completed_at !== null) return { duplicate: false, completed: false };
    await tx.updateTable('notify_cardsys_syncs').set({ completed_at: now }).where('tenant_id', '=', tenantId).where('snapshot_id', '=', p.snapshotId).execute();
    await tx
      .updateTable('notify_cardsys_links')
      .set({ last_full_sync_at: now, last_snapshot_id: p.snapshotId, last_snapshot_drifted: s.drifted, drift_flagged_at: null })
      .where('tenant_id', '=', tenantId)
      .execute();
    if (s.drifted > 0) ctx.log.warn({ tenantId, snapshotId: p.snapshotId, drifted: s.drifted }, 'full sync corrected card statuses the feed had missed');
    else ctx.log.info({ tenantId, snapshotId: p.snapshotId }, 'full sync complete');
    return { duplicate: false, completed: true };
  });
  for (const c of cancelled) await revokeNow(ctx, c.coreCardId, c.at);
  return { ...result, ...done };
}
