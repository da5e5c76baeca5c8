// Plugin `cardStatusFeed()`: starts the card-status consumer when a broker is configured, registers its jobs, stops it when the server closes.
import type { AppContext } from '../../app/context.ts';
import type { ModulePlugin } from '../../app/server.ts';
import { redactUrl } from './mqtt-link.ts';
import { CardStatusFeed, type CardStatusFeedOptions } from './feed.ts';
import { CARD_CANCELLED_TOPIC, cardCancelledJob } from './apply.ts';
import { CARD_SYNC_MAX_ATTEMPTS, CARD_SYNC_RETRY_MS, CARD_SYNC_TOPIC, cardSyncJob, enqueueCatchUpSync, scheduleCardSync } from './sync-job.ts';

/** Revoking a cancelled card's access is retried this often before it becomes a dead letter (the daily sweep still catches it). */
const CARD_CANCELLED_MAX_ATTEMPTS = 8;

const feeds = new WeakMap<AppContext, CardStatusFeed>();

/** The running feed of a context (tests wait on `ready()`; the console may show `connected`). */
export function cardStatusFeedOf(ctx: AppContext): CardStatusFeed | undefined {
  return feeds.get(ctx);
}

/**
 * Consumes the card system's status feed from `ctx.config.mqttUrl` (or `opts.url`); without a
 * broker it does nothing. The consumer connects in the background: the server starts even while
 * the broker is down, and reconnects with backoff.
 */
export function cardStatusFeed(opts: CardStatusFeedOptions = {}): ModulePlugin {
  return async (app, ctx) => {
    const url = opts.url ?? ctx.config.mqttUrl;
    if (!url) {
      ctx.log.info('card status feed off: MQTT_URL is not set');
      return;
    }
    const feed = new CardStatusFeed(ctx, url, opts);
    feeds.set(ctx, feed);
    feed.onReconnect = () => {
      enqueueCatchUpSync(ctx.db, ctx.clock.now()).catch((err) => ctx.log.warn({ err }, 'catch-up sync could not be queued'));
    };
    ctx.jobs.register(CARD_CANCELLED_TOPIC, (c, payload) => cardCancelledJob(c, payload), { maxAttempts: CARD_CANCELLED_MAX_ATTEMPTS });
    ctx.jobs.register(CARD_SYNC_TOPIC, (c, payload, job) => cardSyncJob(c, feed, payload, job), {
      maxAttempts: CARD_SYNC_MAX_ATTEMPTS,
      retryDelayMs: (n) => CARD_SYNC_RETRY_MS * n,
    });
    await scheduleCardSync(ctx.db, ctx.clock.now());
    feed.start();
    ctx.log.info({ broker: redactUrl(url), topicRoot: feed.topicRoot }, 'card status feed starting');
    app.addHook('onClose', async () => {
      await feed.stop();
      feeds.delete(ctx);
    });
  };
}
