// Plugin `partnerWebhooks()`: registers the fan-out, delivery and prune jobs of partner webhooks (no routes; the console calls the operator functions).
import type { ModulePlugin } from '../../app/server.ts';
import { WEBHOOK_DELIVER_TOPIC, WEBHOOK_FANOUT_TOPIC, fanoutJob } from './events.ts';
import { WEBHOOK_MAX_ATTEMPTS, deliverJob, webhookRetryDelayMs } from './deliver.ts';
import { WEBHOOK_PRUNE_TOPIC, scheduleWebhookPrune, webhookPruneJob } from './prune.ts';

/** Fan-out touches only our database: a few quick retries, then a dead letter for the operator. */
const FANOUT_MAX_ATTEMPTS = 5;
const PRUNE_MAX_ATTEMPTS = 3;

export function partnerWebhooks(): ModulePlugin {
  return async (_app, ctx) => {
    ctx.jobs.register(WEBHOOK_FANOUT_TOPIC, (c, payload) => fanoutJob(c, payload), { maxAttempts: FANOUT_MAX_ATTEMPTS });
    ctx.jobs.register(WEBHOOK_DELIVER_TOPIC, (c, payload, job) => deliverJob(c, payload, job), {
      maxAttempts: WEBHOOK_MAX_ATTEMPTS,
      retryDelayMs: webhookRetryDelayMs,
    });
    ctx.jobs.register(WEBHOOK_PRUNE_TOPIC, webhookPruneJob, { maxAttempts: PRUNE_MAX_ATTEMPTS });
    await scheduleWebhookPrune(ctx.db, ctx.clock.now());
  };
}
