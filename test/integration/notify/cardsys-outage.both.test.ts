// A broker outage between wecard and the real Mosquitto: the consumer reconnects with backoff, queued events arrive, and the catch-up sync recovers what was lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform, type RunningServer } from '../../helpers/platform.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { getCard } from '../../../src/core/index.ts';
import { CARD_SYNC_TOPIC, cardFeedStatus, cardStatusFeed, cardStatusFeedOf } from '../../../src/notify/index.ts';
import { sandboxCardsys, cardsysSimulatorOf } from '../../../src/sandbox/cardsys/index.ts';
import { MQTT_URL, brokerReachable, citizenTenant, eventually, post, startTcpProxy, uniqueTopicRoot, type TcpProxy } from './fixtures.ts';

const reachable = await brokerReachable();
if (!reachable) console.warn(`MQTT broker at ${MQTT_URL} is unreachable: skipping the broker-outage tests (start Mosquitto or set MQTT_URL_TEST)`);

const ROOT = uniqueTopicRoot('cardsys-outage');

describe.skipIf(!reachable)('card status feed through a broker outage', () => {
  let p: Platform;
  let server: RunningServer;
  let proxy: TcpProxy;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    proxy = await startTcpProxy();
    p = await startPlatform({
      sandboxModules: [sandboxCardsys({ url: MQTT_URL, topicRoot: ROOT })],
      // wecard reaches the broker through the proxy; the card system reaches it directly.
      serverModules: [cardStatusFeed({ url: proxy.url, topicRoot: ROOT, sessionExpirySeconds: 120 })],
      clock,
    });
    server = p.servers[0]!;
    await cardStatusFeedOf(server.ctx)!.ready();
    await cardsysSimulatorOf(p.sandbox.ctx)!.ready();
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await proxy?.close();
  });

  it('loses nothing: events queued by the broker arrive after the reconnect and the catch-up sync recovers the one that was never sent', async () => {
    const { tenantId, cards } = await citizenTenant(server.ctx, clock.now(), 3);
    const status = async (i: number) => (await getCard(server.ctx.db, cards[i]!.id))!.status;
    const event = (i: number, s: string, delivery = 'once') => post(p.sandbox.url, '/sandbox/api/cardsys/events', { tenantId, cardNumber: cards[i]!.number, status: s, delivery });
    expect((await event(0, 'lost')).status).toBe(200);
    await eventually('the first event', async () => (await status(0)) === 'lost');

    const feed = cardStatusFeedOf(server.ctx)!;
    proxy.cut();
    await eventually('the consumer notices the outage', async () => !feed.connected);
    // During the outage: one event the broker queues for wecard's persistent session, one the card system never sends.
    expect((await event(1, 'frozen')).status).toBe(200);
    expect((await event(2, 'lost', 'none')).status).toBe(200);
    proxy.restore();

    await eventually('the consumer reconnects', async () => feed.connected, 20_000);
    await eventually('the queued event arrives', async () => (await status(1)) === 'frozen');
    expect(await status(2)).toBe('active');
    expect(server.logs.some((l) => l.includes('mqtt connection lost; reconnecting'))).toBe(true);

    // The reconnect queued a catch-up sync; running it asks the card system for a snapshot.
    const catchUp = await server.ctx.db.selectFrom('outbox').select(['dedupe_key', 'payload']).where('topic', '=', CARD_SYNC_TOPIC).where('dedupe_key', 'like', '%catch-up%').execute();
    expect(catchUp.length).toBeGreaterThanOrEqual(1);
    expect(await server.ctx.jobs.runDue({ topics: [CARD_SYNC_TOPIC], now: clock.now() })).toBeGreaterThanOrEqual(1);
    await eventually('the snapshot recovers the lost event', async () => (await status(2)) === 'lost');
    const s = await eventually('the full sync completes', async () => {
      const f = await cardFeedStatus(server.ctx.db, tenantId);
      return f?.lastFullSyncAt ? f : undefined;
    });
    expect(s.lastSnapshotDrifted).toBe(1);
  });
});
