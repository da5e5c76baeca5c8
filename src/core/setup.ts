// Chooses and wires the context's core banking (external over HTTP when configured, else the built-in ledger) and its jobs.
import type { AppContext } from '../app/context.ts';
import type { ModulePlugin } from '../app/server.ts';
import type { BackoffOptions } from './backoff.ts';
import type { BreakerOptions } from './breaker.ts';
import { createBuiltinCore } from './builtin-adapter.ts';
import { CATCH_UP_JOB_OPTIONS, CATCH_UP_TOPIC, runCatchUpJob, scheduleRecoveryCatchUp } from './catch-up.ts';
import { HttpCore } from './http-adapter.ts';
import { MIRROR_PRUNE_TOPIC, runMirrorPruneJob, scheduleMirrorPrune } from './mirror-prune.ts';
import { coreMetrics } from './metrics.ts';
import type { CoreBanking } from './port.ts';
import { attachCore, coreOf, runtimeOf, type CoreContext } from './runtime.ts';

/** Tuning of the HTTP adapter; the defaults are the named constants of http-adapter.ts, breaker.ts and backoff.ts. */
export interface CoreBankingOptions {
  attemptTimeoutMs?: number;
  deadlineMs?: number;
  maxAttempts?: number;
  backoff?: BackoffOptions;
  breaker?: Partial<BreakerOptions>;
  /** Overrides ctx.config.core.url (tests pointing at a sandbox started after the config was made). */
  url?: string;
  token?: string;
}

/**
 * The core for a context: the HTTP adapter when CORE_BANKING_URL is set, else the built-in ledger.
 * The remote core's breaker is watched by the metrics, logs its changes, and on recovery (a
 * half-open probe that succeeded) schedules catch-up of what wecard missed.
 */
export function createCoreBanking(ctx: AppContext, opts: CoreBankingOptions = {}): CoreBanking {
  const metrics = coreMetrics(ctx.metrics);
  const url = opts.url ?? ctx.config.core.url;
  if (!url) {
    const core = createBuiltinCore(ctx);
    runtimeOf(core).metrics = metrics;
    return core;
  }
  const log = ctx.log.child({ module: 'core' });
  const core = new HttpCore({
    url,
    token: opts.token ?? ctx.config.core.token,
    now: () => ctx.clock.now(),
    log,
    attemptTimeoutMs: opts.attemptTimeoutMs,
    deadlineMs: opts.deadlineMs,
    maxAttempts: opts.maxAttempts,
    backoff: opts.backoff,
    breaker: opts.breaker,
    observe: metrics.observeCall,
  });
  const rt = runtimeOf(core);
  rt.metrics = metrics;
  metrics.watch(core.breaker);
  // When this outage began (the first opening; failed probes re-open it without starting a new one).
  let outageStartedAt: Date | undefined;
  core.breaker.onChange((from, to, at) => {
    metrics.transition(to);
    if (to === 'open' && from === 'closed') outageStartedAt = at;
    if (to === 'open') log.warn({ from, failures: core.breaker.options.failureThreshold, probeInMs: core.breaker.options.openMs }, 'core unreachable: circuit opened, answering from kept values');
    else log.info({ from, to }, 'core circuit state changed');
    if (from === 'half_open' && to === 'closed') {
      // Cards marked during the outage must be marked again if the core fails once more.
      rt.dirtyMarkedAt.clear();
      scheduleRecoveryCatchUp(ctx, outageStartedAt ?? at, at).catch((err) => log.error({ err }, 'could not schedule catch-up after the core recovered'));
      outageStartedAt = undefined;
    }
  });
  return core;
}

/**
 * The core port's module: makes the core the context's (until AppContext carries `core`) and
 * registers its jobs (`core.catch-up`; `core.mirror-prune`, scheduled daily for an external core).
 * Pass a core, a factory, or nothing (ctx.core, else `createCoreBanking(ctx)`).
 */
export function corePort(opts: { core?: CoreBanking | ((ctx: AppContext) => CoreBanking) } = {}): ModulePlugin {
  return async (_app, ctx) => {
    const given = typeof opts.core === 'function' ? opts.core(ctx) : opts.core;
    const core = given ?? (ctx as CoreContext).core ?? createCoreBanking(ctx);
    attachCore(ctx, core);
    ctx.jobs.register(CATCH_UP_TOPIC, (c, _payload, job) => runCatchUpJob(c, coreOf(c), job), CATCH_UP_JOB_OPTIONS);
    ctx.jobs.register(MIRROR_PRUNE_TOPIC, (c, _payload, job) => runMirrorPruneJob(c, job.now, job.id));
    // Only an external core's transactions are mirrored; the built-in core has nothing to prune.
    if (core.remote) await scheduleMirrorPrune(ctx, ctx.clock.now());
  };
}
