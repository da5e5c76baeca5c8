// The card status feed's rules: which change applies (sequence, cancellation, local changes, clock skew), when a sync is due or overdue, the reconnect backoff.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CARDSYS_MAX_CLOCK_SKEW_MS, CARD_SYNC_INTERVAL_MS, CARD_SYNC_STALE_AFTER_MS, coreStatusOf, decide, syncVerdict } from '../../../src/notify/cardsys/policy.ts';
import { MQTT_RECONNECT_CAP_MS, reconnectDelayMs } from '../../../src/notify/cardsys/mqtt-link.ts';
import type { CardsysStatus } from '../../../src/notify/cardsys/wire.ts';
import type { CardStatus } from '../../../src/core/index.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('notify/cardsys-policy');
const T = new Date('2026-03-02T02:00:00Z');
const at = (s: number) => new Date(T.getTime() + s * 1000);
const core = (status: CardStatus, changedS = -3600) => ({ status, statusChangedAt: at(changedS) });
const entry = (status: CardsysStatus, seq: number, changedS = 0) => ({ status, seq: BigInt(seq), changedAt: at(changedS) });

describe('decide', () => {
  it('maps the card system’s statuses onto the core’s', () => {
    expect((['normal', 'lost', 'frozen', 'cancelled'] as const).map(coreStatusOf)).toEqual(['active', 'lost', 'frozen', 'cancelled']);
  });

  it('applies a newer change, and calls one at or below the last sequence stale', () => {
    expect(decide({ entry: entry('lost', 1), lastSeq: undefined, core: core('active'), now: T })).toEqual({ outcome: 'apply', status: 'lost' });
    expect(decide({ entry: entry('lost', 5), lastSeq: 5n, core: core('active'), now: T })).toEqual({ outcome: 'stale' });
    expect(decide({ entry: entry('lost', 4), lastSeq: 5n, core: core('active'), now: T })).toEqual({ outcome: 'stale' });
    expect(decide({ entry: entry('lost', 6), lastSeq: 5n, core: core('lost'), now: T })).toEqual({ outcome: 'unchanged' });
  });

  it('never undoes a newer local change, except by cancelling, and never revives a cancelled card', () => {
    // A loss report through wecard at T, after the card system's "normal" at T−60 s.
    expect(decide({ entry: entry('normal', 9, -60), lastSeq: 8n, core: core('lost', 0), now: T })).toEqual({ outcome: 'superseded' });
    expect(decide({ entry: entry('cancelled', 9, -60), lastSeq: 8n, core: core('lost', 0), now: T })).toEqual({ outcome: 'apply', status: 'cancelled' });
    expect(decide({ entry: entry('normal', 9, 60), lastSeq: 8n, core: core('cancelled', 0), now: at(120) })).toEqual({ outcome: 'rejected', reason: 'cancelled_is_final' });
    expect(decide({ entry: entry('normal', 9), lastSeq: 8n, core: core('dormant'), now: T })).toEqual({ outcome: 'unchanged' });
    expect(decide({ entry: entry('lost', 9), lastSeq: 8n, core: core('dormant'), now: T })).toEqual({ outcome: 'apply', status: 'lost' });
  });

  it('refuses a change dated further ahead than the allowed clock skew', () => {
    const skew = CARDSYS_MAX_CLOCK_SKEW_MS / 1000;
    expect(decide({ entry: entry('lost', 1, skew), lastSeq: undefined, core: core('active'), now: T }).outcome).toBe('apply');
    expect(decide({ entry: entry('lost', 1, skew + 1), lastSeq: undefined, core: core('active'), now: T })).toEqual({ outcome: 'rejected', reason: 'dated_in_future' });
  });

  it('ends at the status of the highest sequence whatever the delivery order and duplicates (property)', () => {
    const statuses = fc.constantFrom<CardsysStatus>('normal', 'lost', 'frozen');
    check(
      seed,
      fc.property(fc.array(statuses, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (changes, picks) => {
        // Events seq 1..n, dated in order; delivered in an order and with repeats drawn from `picks`, then each once more.
        const events = changes.map((s, i) => entry(s, i + 1, i));
        const order = [...picks.map((p) => events[p % events.length]!), ...events];
        let state = core('active', -3600);
        let lastSeq: bigint | undefined;
        for (const e of order) {
          const d = decide({ entry: e, lastSeq, core: state, now: at(3600) });
          if (d.outcome !== 'stale') lastSeq = e.seq;
          if (d.outcome === 'apply') state = { status: d.status, statusChangedAt: e.changedAt };
        }
        expect(state.status).toBe(coreStatusOf(changes.at(-1)!));
      }),
    );
  });
});

describe('syncVerdict', () => {
  const created = at(-10 * 3600);
  it('asks for a sync when none has completed or the last is about 15 minutes old', () => {
    expect(syncVerdict({ now: T, linkCreatedAt: created, lastFullSyncAt: null })).toEqual({ request: true, stale: true });
    expect(syncVerdict({ now: T, linkCreatedAt: T, lastFullSyncAt: null })).toEqual({ request: true, stale: false });
    expect(syncVerdict({ now: T, linkCreatedAt: created, lastFullSyncAt: at(-60) }).request).toBe(false);
    expect(syncVerdict({ now: T, linkCreatedAt: created, lastFullSyncAt: at(-60), force: true }).request).toBe(true);
    expect(syncVerdict({ now: T, linkCreatedAt: created, lastFullSyncAt: new Date(T.getTime() - CARD_SYNC_INTERVAL_MS + 30_000) }).request).toBe(true);
  });

  it('flags drift only past the stale age', () => {
    expect(syncVerdict({ now: T, linkCreatedAt: created, lastFullSyncAt: new Date(T.getTime() - CARD_SYNC_STALE_AFTER_MS + 1) }).stale).toBe(false);
    expect(syncVerdict({ now: T, linkCreatedAt: created, lastFullSyncAt: new Date(T.getTime() - CARD_SYNC_STALE_AFTER_MS) }).stale).toBe(true);
  });
});

describe('reconnect backoff', () => {
  it('waits at least half of an exponentially growing ceiling, never more than the cap', () => {
    expect([1, 2, 3, 4].map((n) => reconnectDelayMs(n, () => 0))).toEqual([250, 500, 1_000, 2_000]);
    expect(reconnectDelayMs(100, () => 0.999999)).toBeLessThanOrEqual(MQTT_RECONNECT_CAP_MS);
    expect(reconnectDelayMs(100, () => 0)).toBe(MQTT_RECONNECT_CAP_MS / 2);
  });
});
