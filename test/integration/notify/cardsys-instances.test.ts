// Two wecard instances on one PostgreSQL share the card system's subscription: the broker splits the messages and each event is applied exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../../helpers/platform.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { getCard } from '../../../src/core/index.ts';
import { cardStatusFeed, cardStatusFeedOf } from '../../../src/notify/index.ts';
import { sandboxCardsys, cardsysSimulatorOf } from '../../../src/sandbox/cardsys/index.ts';
import { MQTT_URL, brokerReachable, citizenTenant, eventually, post, uniqueTopicRoot } from './fixtures.ts';

const reachable = await brokerReachable();
if (!reachable) console.warn(`MQTT broker at ${MQTT_URL} is unreachable: skipping the shared-subscription tests (start Mosquitto or set MQTT_URL_TEST)`);
const postgres = Boolean(process.env.TEST_DATABASE_URL);

const ROOT = uniqueTopicRoot('cardsys-instances');
const EVENTS = 16;

describe.skipIf(!reachable || !postgres)('card status feed on two instances', () => {
  let p: Platform;
  const clock = new ManualClock(new Date());

  beforeAll(async () => {
    p = await startPlatform({
      sandboxModules: [sandboxCardsys({ url: MQTT_URL, topicRoot: ROOT })],
      serverModules: [cardStatusFeed({ url: MQTT_URL, topicRoot: ROOT, sessionExpirySeconds: 60 })],
      instances: 2,
      clock,
    });
    for (const s of p.servers) await cardStatusFeedOf(s.ctx)!.ready();
    await cardsysSimulatorOf(p.sandbox.ctx)!.ready();
  }, 60_000);
  afterAll(async () => {
    await p?.close();
  });

  async function handledBy(i: number): Promise<number> {
    const m = await p.servers[i]!.ctx.metrics.getSingleMetricAsString('wecard_cardsys_messages_total');
    return [...m.matchAll(/kind="status",outcome="(\w+)"\} (\d+)$/gm)].reduce((s, x) => s + Number(x[2]), 0);
  }

  it('splits the messages between the instances, and every event is applied once', async () => {
    const ctx = p.servers[0]!.ctx;
    const { tenantId, cards } = await citizenTenant(ctx, clock.now(), EVENTS);
    for (const c of cards) {
      const r = await post(p.sandbox.url, '/sandbox/api/cardsys/events', { tenantId, cardNumber: c.number, status: 'lost', delivery: 'twice' });
      expect(r.status).toBe(200);
    }
    await eventually('every card is lost', async () => {
      for (const c of cards) if ((await getCard(ctx.db, c.id))!.status !== 'lost') return false;
      return true;
    });
    await eventually('every copy is handled', async () => (await handledBy(0)) + (await handledBy(1)) === 2 * EVENTS);
    const rows = await ctx.db.selectFrom('notify_cardsys_events').select(['event_id', 'outcome']).where('tenant_id', '=', tenantId).execute();
    expect(rows).toHaveLength(EVENTS);
    expect(rows.every((r) => r.outcome === 'applied')).toBe(true);
    // Round robin in the share group: both instances did part of the work.
    expect(await handledBy(0)).toBeGreaterThan(0);
    expect(await handledBy(1)).toBeGreaterThan(0);
  });
});
