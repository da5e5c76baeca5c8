// End to end with demo data: a cardholder binds a citizen card over HTTP, the card system cancels it over MQTT, and the binding is gone at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../identity/world.ts';
import { getCard, findCardByNumber } from '../../../src/core/index.ts';
import { cardFeedStatus, cardStatusFeed, cardStatusFeedOf, runCardSync } from '../../../src/notify/index.ts';
import { sandboxCardsys, cardsysSimulatorOf } from '../../../src/sandbox/cardsys/index.ts';
import { MQTT_URL, brokerReachable, eventually, uniqueTopicRoot } from './fixtures.ts';

const reachable = await brokerReachable();
if (!reachable) console.warn(`MQTT broker at ${MQTT_URL} is unreachable: skipping the card cancellation tests (start Mosquitto or set MQTT_URL_TEST)`);

const ROOT = uniqueTopicRoot('cardsys-cancel');
const TENANT = 'hz-citizen-card';

describe.skipIf(!reachable)('a card cancelled by the card system', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({
      extraServerModules: [cardStatusFeed({ url: MQTT_URL, topicRoot: ROOT, sessionExpirySeconds: 60 }), sandboxCardsys({ url: MQTT_URL, topicRoot: ROOT })],
    });
    await cardStatusFeedOf(w.server.ctx)!.ready();
    await cardsysSimulatorOf(w.server.ctx)!.ready();
  }, 120_000);
  afterAll(async () => {
    await w?.close();
  });
  const citizenHolders = () => w.demo.cardholders.filter((x) => x.tenantId === TENANT && x.cards[0]?.kind === 'citizen' && x.cards[0].status === 'active');

  it('loses its WeChat binding as soon as the status event arrives', async () => {
    const h = citizenHolders()[0]!;
    const s = await w.signIn(TENANT);
    const bound = await w.bind(s, h);
    expect((await w.call('GET', '/api/v1/cards', { session: s })).body.items.map((c: any) => c.cardId)).toContain(bound.cardId);

    const r = await w.call('POST', '/sandbox/api/cardsys/events', { body: { tenantId: TENANT, cardNumber: h.cards[0]!.number, status: 'cancelled' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const core = (await findCardByNumber(w.server.ctx.db, w.server.ctx.crypto, TENANT, h.cards[0]!.number))!;
    await eventually('the core card is cancelled', async () => (await getCard(w.server.ctx.db, core.id))!.status === 'cancelled');
    await eventually('the binding is revoked', async () => (await w.call('GET', '/api/v1/cards', { session: s })).body.items.length === 0);
  });

  it("takes the demo tenant's full snapshot without undoing a newer loss report made through wecard", async () => {
    const h = citizenHolders()[1]!;
    const s = await w.signIn(TENANT);
    const bound = await w.bind(s, h);
    expect((await w.call('POST', `/api/v1/cards/${bound.cardId}/loss-report`, { session: s })).status).toBe(200);
    const core = (await findCardByNumber(w.server.ctx.db, w.server.ctx.crypto, TENANT, h.cards[0]!.number))!;
    expect(core.status).toBe('lost');

    // The demo card system still lists the card as normal, dated before the loss report.
    await runCardSync(w.server.ctx, cardStatusFeedOf(w.server.ctx)!, w.clock.now(), { force: true });
    await eventually('the snapshot completes', async () => (await cardFeedStatus(w.server.ctx.db, TENANT))?.lastFullSyncAt ?? undefined);
    expect((await getCard(w.server.ctx.db, core.id))!.status).toBe('lost');
    const seen = await w.server.ctx.db.selectFrom('notify_cardsys_cards').selectAll().where('core_card_id', '=', core.id).executeTakeFirstOrThrow();
    expect({ seq: BigInt(seen.last_seq), status: seen.last_status }).toEqual({ seq: 0n, status: 'normal' });
  });
});
