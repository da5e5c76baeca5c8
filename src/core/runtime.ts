// Per-core process state (memory, single flight, write throttles, metrics) and how use cases find the context's core.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { BalanceMemory, SingleFlight } from './cache.ts';
import type { CoreMetrics } from './metrics.ts';
import type { KeptBalance } from './freshness.ts';
import type { CoreBanking } from './port.ts';

/** Entries of each per-card memo below (they only save writes; forgetting one costs a write). */
export const MEMO_MAX_ENTRIES = 10_000;

/** A bounded map that forgets its oldest entries first. */
export class BoundedMemo<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max = MEMO_MAX_ENTRIES) {}
  get(k: string): V | undefined {
    return this.m.get(k);
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  clear(): void {
    this.m.clear();
  }
}

export interface CoreRuntime {
  memory: BalanceMemory;
  flights: SingleFlight<KeptBalance>;
  /** Real-time last-known values: what was last written to the table, per card. */
  written: BoundedMemo<{ availableFen: bigint; ledgerFen: bigint; currency: string; fetchedAtMs: number }>;
  /** When this instance last marked a card as having missed the core. */
  dirtyMarkedAt: BoundedMemo<number>;
  /** When this instance last recorded a mirrored statement read of a card. */
  mirroredNotedAt: BoundedMemo<number>;
  metrics: CoreMetrics | undefined;
  /** Years the holiday table lacked, already reported to the log. */
  warnedYears: Set<number>;
}

const runtimes = new WeakMap<CoreBanking, CoreRuntime>();

/** The process state that goes with a core (created on first use). */
export function runtimeOf(core: CoreBanking): CoreRuntime {
  let rt = runtimes.get(core);
  if (!rt) {
    rt = {
      memory: new BalanceMemory(),
      flights: new SingleFlight<KeptBalance>(),
      written: new BoundedMemo(),
      dirtyMarkedAt: new BoundedMemo(),
      mirroredNotedAt: new BoundedMemo(),
      metrics: undefined,
      warnedYears: new Set(),
    };
    runtimes.set(core, rt);
  }
  return rt;
}

/** A context that may carry the core (the lead adds `core` to AppContext). */
export type CoreContext = AppContext & { core?: CoreBanking };

const attached = new WeakMap<AppContext, CoreBanking>();

/** Makes `core` the context's core until AppContext carries it (the corePort plugin calls this). */
export function attachCore(ctx: AppContext, core: CoreBanking): void {
  attached.set(ctx, core);
}

/** The context's core banking: `ctx.core`, else the one the corePort plugin attached. */
export function coreOf(ctx: AppContext): CoreBanking {
  const core = (ctx as CoreContext).core ?? attached.get(ctx);
  if (!core) throw new AppError('internal', 'no core banking on this context (mount corePort or set ctx.core)');
  return core;
}
