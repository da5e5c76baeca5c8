// The simulated card system on the broker: publishes sealed status events and snapshots, and answers wecard's sync requests with a snapshot.
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { newId } from '../../shared/ids.ts';
import {
  CARDSYS_DEFAULT_TOPIC_ROOT,
  CARDSYS_SNAPSHOT_PART_MAX,
  MqttLink,
  activeKeys,
  cardSystemKeyForPeer,
  entryToWire,
  linkCardSystem,
  openCardsysMessage,
  parseCardsysMessage,
  parseCardsysTopic,
  sealCardsysMessage,
  cardsysTopicFilter,
  cardsysTopic,
  type CardsysKey,
  type CardsysStatus,
} from '../../notify/index.ts';
import { listCards, recordStatus } from './store.ts';

/** Events remembered for a republish (out-of-order and duplicate delivery tests). */
export const SANDBOX_CARDSYS_EVENT_MEMO = 1_000;
const SHARE_GROUP = 'sandbox-cardsys';
const SESSION_EXPIRY_S = 300;

export type Delivery = 'once' | 'twice' | 'none';

export class CardsysSimulator {
  readonly topicRoot: string;
  readonly #ctx: AppContext;
  readonly #link: MqttLink;
  readonly #answering = new Set<Promise<void>>();
  readonly #sent = new Map<string, { tenantId: string; message: Record<string, unknown> }>();
  /** Cards per part when answering a sync request (tests set it small to get several parts). */
  snapshotPartSize = CARDSYS_SNAPSHOT_PART_MAX;
  /** Off: sync requests go unanswered (a card system that has stopped sending snapshots). */
  answerSyncRequests = true;

  constructor(ctx: AppContext, url: string, topicRoot = CARDSYS_DEFAULT_TOPIC_ROOT) {
    this.#ctx = ctx;
    this.topicRoot = topicRoot;
    this.#link = new MqttLink({
      url,
      clientId: `sandbox-cardsys-${ctx.instanceId.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 64),
      sessionExpirySeconds: SESSION_EXPIRY_S,
      subscriptions: [cardsysTopicFilter(topicRoot, 'sync-request', SHARE_GROUP)],
      log: ctx.log.child({ component: 'sandbox-cardsys' }),
      onMessage: (topic, payload) => this.#onSyncRequest(topic, payload),
    });
  }

  start(): void {
    this.#link.start();
  }

  ready(): Promise<void> {
    return this.#link.ready();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#answering]);
    await this.#link.stop();
  }

  /** The tenant's current key, linking the tenant on first use (the sandbox hands itself the key). */
  async #key(tenantId: string): Promise<CardsysKey> {
    let m = await cardSystemKeyForPeer(this.#ctx, tenantId);
    if (!m) {
      await linkCardSystem(this.#ctx, tenantId);
      m = await cardSystemKeyForPeer(this.#ctx, tenantId);
    }
    if (!m) throw new AppError('conflict', `the card-system link of ${tenantId} is disabled`);
    return { kid: m.kid, enc: Buffer.from(m.sm4KeyHex, 'hex'), mac: Buffer.from(m.macKeyHex, 'hex') };
  }

  async #publish(tenantId: string, kind: 'status' | 'snapshot', message: Record<string, unknown>, times: number): Promise<number> {
    const key = await this.#key(tenantId);
    const topic = cardsysTopic(this.topicRoot, tenantId, kind);
    for (let i = 0; i < times; i++) await this.#link.publish(topic, sealCardsysMessage(topic, key, message));
    return times;
  }

  /** A status change at the card system: recorded (sequence + 1) and published `delivery` times. */
  async changeStatus(i: { tenantId: string; cardNumber: string; status: CardsysStatus; changedAt: Date; delivery: Delivery }) {
    await this.#key(i.tenantId);
    const card = await recordStatus(this.#ctx, i.tenantId, i.cardNumber, i.status, i.changedAt);
    const eventId = newId('ce');
    const message = { type: 'card.status', eventId, ...entryToWire(card) };
    if (this.#sent.size >= SANDBOX_CARDSYS_EVENT_MEMO) this.#sent.delete(this.#sent.keys().next().value!);
    this.#sent.set(eventId, { tenantId: i.tenantId, message });
    const published = await this.#publish(i.tenantId, 'status', message, i.delivery === 'none' ? 0 : i.delivery === 'twice' ? 2 : 1);
    return { eventId, seq: card.seq.toString(), changedAt: card.changedAt.toISOString(), published };
  }

  /** Publishes an earlier event again, as it was (a late or duplicate delivery). */
  async republish(eventId: string): Promise<void> {
    const sent = this.#sent.get(eventId);
    if (!sent) throw new AppError('not_found', `no event ${eventId} in the sandbox's memory`);
    await this.#publish(sent.tenantId, 'status', sent.message, 1);
  }

  /** A full snapshot of the tenant's cards in parts of `partSize`. */
  async publishSnapshot(tenantId: string, o: { requestId?: string | null; partSize?: number; now: Date }) {
    const partSize = Math.max(1, Math.min(o.partSize ?? CARDSYS_SNAPSHOT_PART_MAX, CARDSYS_SNAPSHOT_PART_MAX));
    await this.#key(tenantId);
    const cards = await listCards(this.#ctx, tenantId);
    const parts = Math.max(1, Math.ceil(cards.length / partSize));
    const snapshotId = newId('snap');
    for (let p = 0; p < parts; p++) {
      await this.#publish(
        tenantId,
        'snapshot',
        {
          type: 'card.snapshot',
          snapshotId,
          requestId: o.requestId ?? null,
          asOf: o.now.toISOString(),
          part: p + 1,
          parts,
          cards: cards.slice(p * partSize, (p + 1) * partSize).map(entryToWire),
        },
        1,
      );
    }
    return { snapshotId, parts, cards: cards.length };
  }

  /**
   * Answers a sync request. The snapshot goes out after the handler returns: MQTT.js reads the
   * next packet (our PUBACKs among them) only once the handler is done, so awaiting a publish
   * here would wait on itself.
   */
  async #onSyncRequest(topic: string, payload: Buffer): Promise<void> {
    try {
      const { tenantId, kind } = parseCardsysTopic(this.topicRoot, topic);
      if (kind !== 'sync-request' || !this.answerSyncRequests) return;
      const keys = await activeKeys(this.#ctx.db, this.#ctx.crypto, tenantId);
      const req = parseCardsysMessage('sync-request', openCardsysMessage(topic, payload, (kid) => keys.find((k) => k.kid === kid)));
      const answer = this.publishSnapshot(tenantId, { requestId: req.requestId, partSize: this.snapshotPartSize, now: this.#ctx.clock.now() })
        .then((r) => this.#ctx.log.info({ tenantId, requestId: req.requestId, snapshotId: r.snapshotId, parts: r.parts }, 'sandbox card system answered a sync request'))
        .catch((err) => this.#ctx.log.warn({ err: { message: (err as Error).message } }, 'sandbox card system could not answer a sync request'))
        .finally(() => this.#answering.delete(answer));
      this.#answering.add(answer);
    } catch (err) {
      this.#ctx.log.warn({ err: { message: (err as Error).message } }, 'sandbox card system refused a sync request');
    }
  }
}
