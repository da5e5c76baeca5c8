// Pure rules of the card status feed: the card system's statuses in core terms, which change applies, when a full sync is due or overdue.
import type { CardStatus } from '../../core/index.ts';
import type { CardsysStatus } from './wire.ts';

/** How often a full sync is wanted (DOMAIN.md: "card status syncs every 15 min"). */
export const CARD_SYNC_INTERVAL_MS = 15 * 60_000;
/** Past this age without a complete snapshot, the feed is flagged as drifting (two missed syncs and a margin). */
export const CARD_SYNC_STALE_AFTER_MS = 2 * CARD_SYNC_INTERVAL_MS + 5 * 60_000;
/** A sync is requested again when the last one is this close to due (the job's slot is not exact). */
export const CARD_SYNC_DUE_SLACK_MS = 60_000;
/** A status change dated further ahead of our clock than this is refused (a broken card-system clock). */
export const CARDSYS_MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** The core status a card-system status means. */
export function coreStatusOf(s: CardsysStatus): CardStatus {
  switch (s) {
    case 'normal':
      return 'active';
    case 'lost':
      return 'lost';
    case 'frozen':
      return 'frozen';
    case 'cancelled':
      return 'cancelled';
  }
}

export type Decision =
  | { outcome: 'apply'; status: CardStatus }
  | { outcome: 'stale' }
  | { outcome: 'unchanged' }
  | { outcome: 'superseded' }
  | { outcome: 'rejected'; reason: 'cancelled_is_final' | 'dated_in_future' };

export interface DecisionInput {
  entry: { status: CardsysStatus; changedAt: Date; seq: bigint };
  /** The highest sequence applied or seen for this card, if any. */
  lastSeq: bigint | undefined;
  core: { status: CardStatus; statusChangedAt: Date };
  now: Date;
}

/**
 * What to do with one card status from the feed (an event or a snapshot entry):
 * - a sequence at or below the last one seen is stale (redelivered or out of order);
 * - a change dated beyond the allowed clock skew is refused;
 * - the same status is no change; `normal` leaves a dormant card dormant (dormancy is the bank's
 *   rule, woken by a qualifying transaction, not by the card system);
 * - a cancelled card stays cancelled (core rule: cancellation is final);
 * - cancellation always applies, even over a newer local change: a cancelled card must lose access;
 * - any other change older than the card's last local change (a loss report through wecard after
 *   the card system's change) is superseded, so the feed never undoes a newer local decision.
 */
export function decide(i: DecisionInput): Decision {
  if (i.lastSeq !== undefined && i.entry.seq <= i.lastSeq) return { outcome: 'stale' };
  if (i.entry.changedAt.getTime() > i.now.getTime() + CARDSYS_MAX_CLOCK_SKEW_MS) return { outcome: 'rejected', reason: 'dated_in_future' };
  const target = coreStatusOf(i.entry.status);
  if (i.core.status === target) return { outcome: 'unchanged' };
  if (target === 'active' && i.core.status === 'dormant') return { outcome: 'unchanged' };
  if (i.core.status === 'cancelled') return { outcome: 'rejected', reason: 'cancelled_is_final' };
  if (target === 'cancelled') return { outcome: 'apply', status: target };
  if (i.entry.changedAt.getTime() < i.core.statusChangedAt.getTime()) return { outcome: 'superseded' };
  return { outcome: 'apply', status: target };
}

export type SyncVerdict = { request: boolean; stale: boolean };

/**
 * Whether a full sync should be requested now, and whether the feed counts as drifting (no
 * complete snapshot for CARD_SYNC_STALE_AFTER_MS; a new link gets that long for its first one).
 */
export function syncVerdict(i: { now: Date; linkCreatedAt: Date; lastFullSyncAt: Date | null; force?: boolean }): SyncVerdict {
  const since = (i.lastFullSyncAt ?? i.linkCreatedAt).getTime();
  const age = i.now.getTime() - since;
  const request = i.force === true || i.lastFullSyncAt === null || i.now.getTime() - i.lastFullSyncAt.getTime() >= CARD_SYNC_INTERVAL_MS - CARD_SYNC_DUE_SLACK_MS;
  return { request, stale: age >= CARD_SYNC_STALE_AFTER_MS };
}
