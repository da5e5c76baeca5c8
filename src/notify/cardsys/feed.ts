// The card-status consumer: one shared MQTT subscription per deployment, messages verified and decrypted, then applied once; sync requests go out the same link.
import { Counter } from 'prom-client';
import type { AppContext } from '../../app/context.ts';
import { newId } from '../../shared/ids.ts';
import { activeKeys } from './links.ts';
import { MqttLink } from './mqtt-link.ts';
import { processSnapshotPart, processStatusEvent } from './apply.ts';
import {
  CARDSYS_DEFAULT_TOPIC_ROOT,
  CARDSYS_SHARE_GROUP,
  WireError,
  assertTopicRoot,
  open,
  parseMessage,
  parseTopic,
  seal,
  topicFilter,
  topicFor,
  type CardsysKey,
} from './wire.ts';

/** How long decrypted tenant keys are reused before they are read again (a rotation shows within this). */
export const CARDSYS_KEY_CACHE_TTL_MS = 30_000;
/** Tenants whose keys are cached at once. */
export const CARDSYS_KEY_CACHE_MAX = 1_000;
/** Attempts at processing one message when the database fails; after them the message is left to the next full sync. */
export const CARDSYS_PROCESS_ATTEMPTS = 3;
const PROCESS_RETRY_DELAYS_MS = [200, 1_000];
/** Default session expiry: queued messages survive an instance restart this long (the full sync covers the rest). */
export const CARDSYS_SESSION_EXPIRY_S = 3_600;
/** One warning per tenant and reason in this window; the metric counts every message. */
const WARN_EVERY_MS = 60_000;
const WARN_MEMO_MAX = 1_000;

export interface CardStatusFeedOptions {
  /** Broker URL; default ctx.config.mqttUrl. */
  url?: string;
  /** Topic root (MQTT.md); default `cardsys/v1`. */
  topicRoot?: string;
  shareGroup?: string;
  sessionExpirySeconds?: number;
}

function messagesCounter(ctx: AppContext): Counter<'kind' | 'outcome'> {
  const name = 'wecard_cardsys_messages_total';
  const existing = ctx.metrics.getSingleMetric(name);
  if (existing) return existing as Counter<'kind' | 'outcome'>;
  return new Counter({ name, help: 'Card-system MQTT messages by kind and outcome', labelNames: ['kind', 'outcome'] as const, registers: [ctx.metrics] });
}

export class CardStatusFeed {
  readonly topicRoot: string;
  readonly #ctx: AppContext;
  readonly #link: MqttLink;
  readonly #keys = new Map<string, { keys: CardsysKey[]; until: number }>();
  readonly #warned = new Map<string, number>();
  readonly #counter: Counter<'kind' | 'outcome'>;
  /** Called after a reconnect (the plugin enqueues a catch-up sync). */
  onReconnect: (() => void) | undefined;

  constructor(ctx: AppContext, url: string, o: CardStatusFeedOptions = {}) {
    this.#ctx = ctx;
    this.topicRoot = assertTopicRoot(o.topicRoot ?? CARDSYS_DEFAULT_TOPIC_ROOT);
    const group = o.shareGroup ?? CARDSYS_SHARE_GROUP;
    this.#counter = messagesCounter(ctx);
    this.#link = new MqttLink({
      url,
      clientId: `wecard-${ctx.instanceId.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 64),
      sessionExpirySeconds: o.sessionExpirySeconds ?? CARDSYS_SESSION_EXPIRY_S,
      subscriptions: [topicFilter(this.topicRoot, 'status', group), topicFilter(this.topicRoot, 'snapshot', group)],
      log: ctx.log.child({ component: 'cardsys-feed' }),
      onMessage: (topic, payload) => this.#handle(topic, payload),
      onReconnect: () => this.onReconnect?.(),
    });
  }

  start(): void {
    this.#link.start();
  }

  ready(): Promise<void> {
    return this.#link.ready();
  }

  get connected(): boolean {
    return this.#link.connected;
  }

  stop(): Promise<void> {
    return this.#link.stop();
  }

  /** Asks the tenant's card system for a full snapshot (MQTT.md, `sync-request`); returns the request id. */
  async requestSync(tenantId: string, now: Date): Promise<string | undefined> {
    const [key] = await this.#keysOf(tenantId, true);
    if (!key) return undefined;
    const requestId = newId('sr');
    const topic = topicFor(this.topicRoot, tenantId, 'sync-request');
    await this.#link.publish(topic, seal(topic, key, { type: 'sync.request', requestId, requestedAt: now.toISOString() }));
    return requestId;
  }

  async #keysOf(tenantId: string, fresh = false): Promise<CardsysKey[]> {
    const hit = this.#keys.get(tenantId);
    if (!fresh && hit && hit.until > Date.now()) return hit.keys;
    const keys = await activeKeys(this.#ctx.db, this.#ctx.crypto, tenantId);
    if (this.#keys.size >= CARDSYS_KEY_CACHE_MAX) this.#keys.clear();
    this.#keys.set(tenantId, { keys, until: Date.now() + CARDSYS_KEY_CACHE_TTL_MS });
    return keys;
  }

  #warn(tenantId: string, reason: string, msg: string): void {
    const k = `${tenantId}:${reason}`;
    const last = this.#warned.get(k) ?? 0;
    if (Date.now() - last < WARN_EVERY_MS) return;
    if (this.#warned.size >= WARN_MEMO_MAX) this.#warned.clear();
    this.#warned.set(k, Date.now());
    this.#ctx.log.warn({ tenantId, reason }, msg);
  }

  async #handle(topic: string, payload: Buffer): Promise<void> {
    let where: { tenantId: string; kind: 'status' | 'snapshot' | 'sync-request' };
    try {
      where = parseTopic(this.topicRoot, topic);
    } catch {
      this.#counter.inc({ kind: 'unknown', outcome: 'bad_topic' });
      return;
    }
    const { tenantId, kind } = where;
    if (kind === 'sync-request') return;
    let message: unknown;
    try {
      let keys = await this.#keysOf(tenantId);
      if (keys.length === 0) {
        this.#counter.inc({ kind, outcome: 'unlinked_tenant' });
        this.#warn(tenantId, 'unlinked', 'card-system message for a tenant without an enabled link; dropped');
        return;
      }
      try {
        message = open(topic, payload, (kid) => keys.find((k) => k.kid === kid));
      } catch (err) {
        // A key added since the cache was filled: read the keys again once.
        if (!(err instanceof WireError) || err.reason !== 'unknown_key') throw err;
        keys = await this.#keysOf(tenantId, true);
        message = open(topic, payload, (kid) => keys.find((k) => k.kid === kid));
      }
    } catch (err) {
      const reason = err instanceof WireError ? err.reason : 'error';
      this.#counter.inc({ kind, outcome: reason });
      if (err instanceof WireError) this.#warn(tenantId, reason, 'card-system message refused');
      else this.#ctx.log.error({ err, tenantId }, 'card-system keys could not be read');
      return;
    }
    let parsed;
    try {
      parsed = parseMessage(kind, message);
    } catch (err) {
      this.#counter.inc({ kind, outcome: 'bad_shape' });
      this.#warn(tenantId, 'bad_shape', `card-system message refused: ${(err as Error).message}`);
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const now = this.#ctx.clock.now();
        if (parsed.type === 'card.status') {
          const r = await processStatusEvent(this.#ctx, tenantId, parsed, now);
          this.#counter.inc({ kind, outcome: r.outcome });
          this.#ctx.log.info({ tenantId, eventId: parsed.eventId, card: parsed.cardNumber.masked, status: parsed.status, outcome: r.outcome }, 'card status event');
        } else if (parsed.type === 'card.snapshot') {
          const r = await processSnapshotPart(this.#ctx, tenantId, parsed, now);
          this.#counter.inc({ kind, outcome: r.duplicate ? 'duplicate' : 'applied' });
          this.#ctx.log.debug({ tenantId, snapshotId: parsed.snapshotId, part: parsed.part, parts: parsed.parts, ...r }, 'card status snapshot part');
        }
        return;
      } catch (err) {
        if (attempt >= CARDSYS_PROCESS_ATTEMPTS) {
          this.#counter.inc({ kind, outcome: 'failed' });
          this.#ctx.log.error({ err, tenantId, kind }, 'card-system message could not be processed; the next full sync recovers it');
          return;
        }
        await new Promise((r) => setTimeout(r, PROCESS_RETRY_DELAYS_MS[attempt - 1] ?? 1_000));
      }
    }
  }
}
