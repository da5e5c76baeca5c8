// One MQTT connection (MQTT.js, protocol 5): reconnects with capped jittered backoff, subscribes on every connect, acks a QoS 1 message only after its handler finished.
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

/** First reconnect delay ceiling; doubles per failed attempt up to MQTT_RECONNECT_CAP_MS. */
export const MQTT_RECONNECT_BASE_MS = 500;
export const MQTT_RECONNECT_CAP_MS = 30_000;
export const MQTT_CONNECT_TIMEOUT_MS = 10_000;
export const MQTT_KEEPALIVE_S = 30;
/** A publish that the broker has not acknowledged in this time fails (the caller retries). */
export const MQTT_PUBLISH_TIMEOUT_MS = 10_000;

export interface MqttLinkOptions {
  url: string;
  /** Unique per process: the broker keeps this session's subscriptions and queued messages. */
  clientId: string;
  /** How long the broker keeps the session (and queues QoS 1 messages) while we are away. */
  sessionExpirySeconds: number;
  /** Topic filters (QoS 1) subscribed on every connect. */
  subscriptions: string[];
  log: Logger;
  /**
   * Runs for each message; the broker gets its PUBACK when this settles. MQTT.js reads no other
   * packet meanwhile, so a handler must not await a publish on the same link (its PUBACK would wait
   * behind the handler).
   */
  onMessage: (topic: string, payload: Buffer) => Promise<void>;
  /** Called on each connect after the first (the link was down: the caller may want a catch-up). */
  onReconnect?: () => void;
}

/** The broker's address without credentials, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}`;
  } catch {
    return 'mqtt://?';
  }
}

export function reconnectDelayMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MQTT_RECONNECT_CAP_MS, MQTT_RECONNECT_BASE_MS * 2 ** Math.min(Math.max(failures - 1, 0), 20));
  // Half fixed, half jitter: never hammer the broker, and spread many instances coming back at once.
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

export class MqttLink {
  readonly #o: MqttLinkOptions;
  #client: MqttClient | undefined;
  #stopping = false;
  #failures = 0;
  #connects = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #firstSubscribed: Promise<void>;
  #resolveFirst!: () => void;

  constructor(o: MqttLinkOptions) {
    this.#o = o;
    this.#firstSubscribed = new Promise((r) => (this.#resolveFirst = r));
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  /** Resolves once the first connection has its subscriptions (tests wait on it; the server does not). */
  ready(): Promise<void> {
    return this.#firstSubscribed;
  }

  start(): void {
    if (this.#client) return;
    const where = redactUrl(this.#o.url);
    const client = mqtt.connect(this.#o.url, {
      protocolVersion: 5,
      clientId: this.#o.clientId,
      clean: false,
      properties: { sessionExpiryInterval: this.#o.sessionExpirySeconds },
      keepalive: MQTT_KEEPALIVE_S,
      connectTimeout: MQTT_CONNECT_TIMEOUT_MS,
      // Our own backoff below: MQTT.js retries at a fixed period.
      reconnectPeriod: 0,
      resubscribe: false,
    });
    this.#client = client;
    client.handleMessage = (packet, done) => {
      const topic = String(packet.topic);
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload as string);
      // MQTT.js hands over the next message only after `done`: one message at a time per link.
      this.#inFlight = this.#o.onMessage(topic, payload).then(
        () => done(),
        (err) => {
          this.#o.log.error({ err }, 'mqtt message handler failed');
          done();
        },
      );
    };
    client.on('connect', (connack) => {
      this.#failures = 0;
      this.#connects++;
      this.#o.log.info({ broker: where, sessionPresent: connack.sessionPresent }, 'mqtt connected');
      if (this.#connects > 1) this.#o.onReconnect?.();
      client.subscribe(
        this.#o.subscriptions,
        { qos: 1 },
        (err) => {
          if (err) {
            this.#o.log.error({ err: { message: err.message } }, 'mqtt subscribe failed; reconnecting');
            client.end(true);
            return;
          }
          this.#resolveFirst();
        },
      );
    });
    client.on('error', (err) => this.#o.log.warn({ broker: where, err: { message: err.message } }, 'mqtt error'));
    client.on('close', () => {
      if (this.#stopping) return;
      this.#failures++;
      if (this.#timer) return;
      const delay = reconnectDelayMs(this.#failures);
      if (this.#failures === 1 || this.#failures % 10 === 0) this.#o.log.warn({ broker: where, failures: this.#failures, retryInMs: delay }, 'mqtt connection lost; reconnecting');
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#stopping) client.reconnect();
      }, delay);
      this.#timer.unref();
    });
  }

  /** Publishes at QoS 1 and waits for the broker's PUBACK; fails at once when not connected. */
  async publish(topic: string, payload: Buffer): Promise<void> {
    const client = this.#client;
    if (!client?.connected) throw new Error('mqtt broker not connected');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.publishAsync(topic, payload, { qos: 1 }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('mqtt publish timed out')), MQTT_PUBLISH_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops reconnecting, lets the message in its handler finish, then disconnects. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const client = this.#client;
    if (!client) return;
    await this.#inFlight;
    await Promise.race([client.endAsync(), new Promise((r) => setTimeout(r, MQTT_CONNECT_TIMEOUT_MS).unref())]);
    client.end(true);
  }
}
