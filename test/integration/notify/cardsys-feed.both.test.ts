// The card-status feed against the real Mosquitto: SM4-sealed events applied once and in order, lost events recovered by the full sync, drift flagged, forged messages refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { startPlatform, type Platform, type RunningServer } from '../../helpers/platform.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { getCard } from '../../../src/core/index.ts';
import {
  CARD_SYNC_STALE_AFTER_MS,
  CARD_SYNC_TOPIC,
  cardFeedStatus,
  cardStatusFeed,
  cardStatusFeedOf,
  cardsysTopic,
  entryToWire,
  runCardSync,
  sealCardsysMessage,
  cardSystemKeyForPeer,
} from '../../../src/notify/index.ts';
import { sandboxCardsys, cardsysSimulatorOf } from '../../../src/sandbox/cardsys/index.ts';
import { MQTT_URL, brokerReachable, citizenTenant, eventually, post, uniqueTopicRoot, type TestCard } from './fixtures.ts';

const reachable = await brokerReachable();
if (!reachable) console.warn(`MQTT broker at ${MQTT_URL} is unreachable: skipping the card-status feed tests (start Mosquitto or set MQTT_URL_TEST)`);

const ROOT = uniqueTopicRoot('cardsys-feed');
let p: Platform;
let server: RunningServer;
let clock: ManualClock;

describe.skipIf(!reachable)('card status feed over MQTT', () => {
  beforeAll(async () => {
    clock = new ManualClock(new Date());
    p = await startPlatform({
      sandboxModules: [sandboxCardsys({ url: MQTT_URL, topicRoot: ROOT })],
      serverModules: [cardStatusFeed({ url: MQTT_URL, topicRoot: ROOT, sessionExpirySeconds: 60 })],
      clock,
    });
    server = p.servers[0]!;
    await cardStatusFeedOf(server.ctx)!.ready();
    await cardsysSimulatorOf(p.sandbox.ctx)!.ready();
  }, 60_000);
  afterAll(async () => {
    await p?.close();
  });

  const statusOf = async (card: TestCard) => (await getCard(server.ctx.db, card.id))!.status;
  const eventRow = (tenantId: string, eventId: string) =>
    server.ctx.db.selectFrom('notify_cardsys_events').selectAll().where('tenant_id', '=', tenantId).where('event_id', '=', eventId).executeTakeFirst();
  const sandboxEvent = async (tenantId: string, card: TestCard, status: string, extra: Record<string, unknown> = {}) => {
    const r = await post(p.sandbox.url, '/sandbox/api/cardsys/events', { tenantId, cardNumber: card.number, status, ...extra });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as { eventId: string; seq: string; published: number };
  };

  it('applies a status event from the card system to the core card, and a second delivery of it changes nothing', async () => {
    const { tenantId, cards } = await citizenTenant(server.ctx, clock.now());
    const ev = await sandboxEvent(tenantId, cards[0]!, 'lost', { delivery: 'twice' });
    expect(ev.published).toBe(2);
    await eventually('the event is applied', async () => (await statusOf(cards[0]!)) === 'lost');
    expect((await eventRow(tenantId, ev.eventId))?.outcome).toBe('applied');
    // The duplicate was acknowledged and skipped: still one row, still lost, nothing else moved.
    await eventually('the duplicate is counted', async () => {
      const m = await server.ctx.metrics.getSingleMetricAsString('wecard_cardsys_messages_total');
      return /outcome="duplicate"[^\n]*\s([1-9]\d*)$/m.test(m);
    });
    const rows = await server.ctx.db.selectFrom('notify_cardsys_events').selectAll().where('tenant_id', '=', tenantId).execute();
    expect(rows).toHaveLength(1);
    expect(await statusOf(cards[0]!)).toBe('lost');
  });

  it('ignores an event that arrives after a newer one for the same card (lower sequence)', async () => {
    const { tenantId, cards } = await citizenTenant(server.ctx, clock.now());
    const older = await sandboxEvent(tenantId, cards[0]!, 'lost', { delivery: 'none' });
    const newer = await sandboxEvent(tenantId, cards[0]!, 'frozen');
    expect(BigInt(newer.seq)).toBeGreaterThan(BigInt(older.seq));
    await eventually('the newer event is applied', async () => (await eventRow(tenantId, newer.eventId))?.outcome === 'applied');
    expect(await statusOf(cards[0]!)).toBe('frozen');
    expect((await post(p.sandbox.url, `/sandbox/api/cardsys/events/${older.eventId}/republish`, {})).status).toBe(200);
    await eventually('the late event is seen', async () => (await eventRow(tenantId, older.eventId))?.outcome);
    expect((await eventRow(tenantId, older.eventId))!.outcome).toBe('stale');
    expect(await statusOf(cards[0]!)).toBe('frozen');
  });

  it('brings a card back to normal when the card system lifts a loss report, but never revives a cancelled card', async () => {
    const { tenantId, cards } = await citizenTenant(server.ctx, clock.now());
    const a = await sandboxEvent(tenantId, cards[0]!, 'lost');
    await eventually('lost', async () => (await eventRow(tenantId, a.eventId))?.outcome === 'applied');
    clock.advance(1_000);
    const b = await sandboxEvent(tenantId, cards[0]!, 'normal');
    await eventually('normal', async () => (await eventRow(tenantId, b.eventId))?.outcome === 'applied');
    expect(await statusOf(cards[0]!)).toBe('active');
    clock.advance(1_000);
    const c = await sandboxEvent(tenantId, cards[0]!, 'cancelled');
    await eventually('cancelled', async () => (await eventRow(tenantId, c.eventId))?.outcome === 'applied');
    clock.advance(1_000);
    const d = await sandboxEvent(tenantId, cards[0]!, 'normal');
    await eventually('refused', async () => (await eventRow(tenantId, d.eventId))?.outcome);
    expect((await eventRow(tenantId, d.eventId))!.outcome).toBe('rejected');
    expect(await statusOf(cards[0]!)).toBe('cancelled');
    // The access revocation was queued with the cancellation, once per card.
    const jobs = await server.ctx.db.selectFrom('outbox').select('dedupe_key').where('topic', '=', 'notify.card-cancelled').where('dedupe_key', '=', `notify.card-cancelled:${cards[0]!.id}`).execute();
    expect(jobs).toHaveLength(1);
  });

  it('recovers a lost event through the full sync: wecard asks, the card system answers with a snapshot in parts, the drift is counted', async () => {
    const { tenantId, cards } = await citizenTenant(server.ctx, clock.now(), 3);
    const sim = cardsysSimulatorOf(p.sandbox.ctx)!;
    sim.snapshotPartSize = 2;
    // The card system knows all three cards; one change never reaches wecard (a broker outage).
    await sandboxEvent(tenantId, cards[0]!, 'normal');
    await sandboxEvent(tenantId, cards[1]!, 'normal');
    const lost = await sandboxEvent(tenantId, cards[2]!, 'lost', { delivery: 'none' });
    expect(lost.published).toBe(0);
    await eventually('the delivered events are seen', async () => {
      const n = await server.ctx.db.selectFrom('notify_cardsys_events').select('event_id').where('tenant_id', '=', tenantId).execute();
      return n.length === 2;
    });
    expect(await statusOf(cards[2]!)).toBe('active');

    const run = await runCardSync(server.ctx, cardStatusFeedOf(server.ctx)!, clock.now());
    expect(run.requested).toContain(tenantId);
    const status = await eventually('the snapshot completes', async () => {
      const s = await cardFeedStatus(server.ctx.db, tenantId);
      return s?.lastFullSyncAt ? s : undefined;
    });
    expect(await statusOf(cards[2]!)).toBe('lost');
    expect(status.lastSnapshotDrifted).toBe(1);
    expect(status.driftFlaggedAt).toBeNull();
    const sync = await server.ctx.db.selectFrom('notify_cardsys_syncs').selectAll().where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
    expect(sync).toMatchObject({ parts: 2, parts_done: 2, cards: 3, drifted: 1 });
    expect(sync.request_id).toMatch(/^sr_/);
    sim.snapshotPartSize = 500;
  });

  it('flags a feed whose card system sends no full sync for too long, and clears the flag when one completes', async () => {
    const { tenantId } = await citizenTenant(server.ctx, clock.now());
    await post(p.sandbox.url, '/sandbox/api/cardsys/snapshots', { tenantId }); // links the tenant and completes a first sync
    await eventually('first sync', async () => (await cardFeedStatus(server.ctx.db, tenantId))?.lastFullSyncAt ?? undefined);
    clock.advance(CARD_SYNC_STALE_AFTER_MS + 1_000);
    const sim = cardsysSimulatorOf(p.sandbox.ctx)!;
    sim.answerSyncRequests = false; // the card system stops answering
    try {
      const run = await runCardSync(server.ctx, cardStatusFeedOf(server.ctx)!, clock.now());
      expect(run.flagged).toContain(tenantId);
      expect(run.requested).toContain(tenantId);
      expect((await cardFeedStatus(server.ctx.db, tenantId))!.driftFlaggedAt).toEqual(clock.now());
      expect(server.logs.some((l) => l.includes('card status feed drifting') && l.includes(tenantId))).toBe(true);
      // Flagged once: the next run does not flag it again.
      expect((await runCardSync(server.ctx, cardStatusFeedOf(server.ctx)!, clock.now())).flagged).not.toContain(tenantId);
    } finally {
      sim.answerSyncRequests = true;
    }
    await post(p.sandbox.url, '/sandbox/api/cardsys/snapshots', { tenantId });
    await eventually('the flag clears', async () => (await cardFeedStatus(server.ctx.db, tenantId))?.driftFlaggedAt === null);
  });

  it('refuses messages sealed with another key, tampered with, or replayed onto another tenant, and changes nothing', async () => {
    const a = await citizenTenant(server.ctx, clock.now());
    const b = await citizenTenant(server.ctx, clock.now());
    await post(p.sandbox.url, '/sandbox/api/cardsys/snapshots', { tenantId: a.tenantId });
    await post(p.sandbox.url, '/sandbox/api/cardsys/snapshots', { tenantId: b.tenantId });
    const keyA = (await cardSystemKeyForPeer(server.ctx, a.tenantId))!;
    const real = { kid: keyA.kid, enc: Buffer.from(keyA.sm4KeyHex, 'hex'), mac: Buffer.from(keyA.macKeyHex, 'hex') };
    const forged = { kid: keyA.kid, enc: randomBytes(16), mac: randomBytes(32) };
    const event = (card: TestCard, id: string) => ({ type: 'card.status', eventId: id, ...entryToWire({ cardNumber: card.number, status: 'cancelled', changedAt: clock.now(), seq: 99 }) });
    const topicA = cardsysTopic(ROOT, a.tenantId, 'status');
    const topicB = cardsysTopic(ROOT, b.tenantId, 'status');
    const tampered = JSON.parse(sealCardsysMessage(topicA, real, event(a.cards[0]!, 'ev-tampered')).toString());
    tampered.ct = Buffer.from(Buffer.from(tampered.ct, 'base64').map((x, i) => (i === 0 ? x ^ 1 : x))).toString('base64');
    const before = await server.ctx.metrics.getSingleMetricAsString('wecard_cardsys_messages_total');
    const count = (text: string) => [...text.matchAll(/outcome="(?:bad_mac|unknown_key)"[^\n]*\s(\d+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);

    const client = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5 });
    try {
      await client.publishAsync(topicA, sealCardsysMessage(topicA, forged, event(a.cards[0]!, 'ev-forged')), { qos: 1 });
      await client.publishAsync(topicA, Buffer.from(JSON.stringify(tampered)), { qos: 1 });
      // A genuine message of tenant A, replayed onto tenant B's topic: the MAC binds the topic.
      await client.publishAsync(topicB, sealCardsysMessage(topicA, real, event(a.cards[0]!, 'ev-replayed')), { qos: 1 });
    } finally {
      await client.endAsync();
    }
    await eventually('three refusals', async () => count(await server.ctx.metrics.getSingleMetricAsString('wecard_cardsys_messages_total')) - count(before) >= 3);
    expect(await statusOf(a.cards[0]!)).toBe('active');
    expect(await statusOf(b.cards[0]!)).toBe('active');
    const seen = await server.ctx.db.selectFrom('notify_cardsys_events').select('event_id').where('event_id', 'in', ['ev-forged', 'ev-tampered', 'ev-replayed']).execute();
    expect(seen).toHaveLength(0);
  });

  it('schedules the 15-minute sync job on slot boundaries, one row per slot', async () => {
    const rows = await server.ctx.db.selectFrom('outbox').select(['dedupe_key', 'run_after']).where('topic', '=', CARD_SYNC_TOPIC).where('done_at', 'is', null).execute();
    const slots = rows.filter((r) => !r.dedupe_key!.includes('catch-up'));
    expect(slots.length).toBeGreaterThanOrEqual(1);
    for (const r of slots) expect(r.run_after.getTime() % (15 * 60_000)).toBe(0);
  });
});
