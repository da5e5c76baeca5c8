// Mounting the interchange plugin: without a broker the feed stays off and the rest works; with one, the feed connects and stops when the server closes.
import { describe, expect, it } from 'vitest';
import { startTestApp } from '../../helpers/app.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { CARD_SYNC_TOPIC, DAILY_EXPORT_TOPIC, WEBHOOK_DELIVER_TOPIC, WEBHOOK_PRUNE_TOPIC, cardStatusFeedOf, interchange } from '../../../src/notify/index.ts';
import { MQTT_URL, brokerReachable, uniqueTopicRoot } from './fixtures.ts';

const reachable = await brokerReachable();
if (!reachable) console.warn(`MQTT broker at ${MQTT_URL} is unreachable: skipping the feed lifecycle test (start Mosquitto or set MQTT_URL_TEST)`);

describe('interchange plugin', () => {
  it('leaves the card status feed off without MQTT_URL and still runs webhooks and the daily export', async () => {
    const t = await startTestApp({ clock: new ManualClock('2026-03-02T02:00:00Z'), modules: [interchange()] });
    try {
      expect(cardStatusFeedOf(t.ctx)).toBeUndefined();
      expect(t.ctx.jobs.topics()).toEqual(expect.arrayContaining([WEBHOOK_DELIVER_TOPIC, WEBHOOK_PRUNE_TOPIC, DAILY_EXPORT_TOPIC]));
      expect(t.ctx.jobs.topics()).not.toContain(CARD_SYNC_TOPIC);
      expect(t.logs.some((l) => l.includes('card status feed off'))).toBe(true);
      const scheduled = await t.ctx.db.selectFrom('outbox').select('topic').where('done_at', 'is', null).execute();
      expect(scheduled.map((r) => r.topic).sort()).toEqual([DAILY_EXPORT_TOPIC, WEBHOOK_PRUNE_TOPIC].sort());
    } finally {
      await t.close();
    }
  });

  it.skipIf(!reachable)('connects the feed from MQTT_URL and disconnects it when the server closes', async () => {
    const t = await startTestApp({
      clock: new ManualClock('2026-03-02T02:00:00Z'),
      config: { MQTT_URL },
      modules: [interchange({ cardStatusFeed: { topicRoot: uniqueTopicRoot('interchange'), sessionExpirySeconds: 10 } })],
    });
    const feed = cardStatusFeedOf(t.ctx)!;
    try {
      await feed.ready();
      expect(feed.connected).toBe(true);
      expect(t.ctx.jobs.topics()).toContain(CARD_SYNC_TOPIC);
      // The broker URL is logged without credentials (there are none here, but the host is what shows).
      expect(t.logs.some((l) => l.includes('"broker":"mqtt://127.0.0.1:1883"'))).toBe(true);
    } finally {
      await t.app.close();
    }
    expect(feed.connected).toBe(false);
    expect(cardStatusFeedOf(t.ctx)).toBeUndefined();
    await t.db.close();
  });
});
