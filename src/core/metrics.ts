// Prometheus metrics of the core port: breaker state, calls by outcome, answers by source, catch-up progress.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BREAKER_STATES, type CircuitBreaker } from './breaker.ts';
import type { CoreCallOutcome, CoreOperation } from './http-adapter.ts';

export type AnswerSource = 'core' | 'cache' | 'stale' | 'unavailable' | 'mirror';

export interface CoreMetrics {
  observeCall(operation: CoreOperation, outcome: CoreCallOutcome, seconds: number): void;
  answer(kind: 'balance' | 'transactions', source: AnswerSource): void;
  transition(to: string): void;
  caughtUp(cards: number, transactions: number): void;
  calendarUncovered(): void;
  /** The breaker the state gauge reports (one remote core per context). */
  watch(breaker: CircuitBreaker): void;
}

interface Holder {
  breaker: CircuitBreaker | undefined;
  metrics: CoreMetrics;
}

// One set per registry: a second core on the same context (tests) reuses them instead of failing to register twice.
const perRegistry = new WeakMap<Registry, Holder>();

export function coreMetrics(registry: Registry): CoreMetrics {
  const existing = perRegistry.get(registry);
  if (existing) return existing.metrics;
  const holder = { breaker: undefined } as Holder;
  const registers = [registry];
  new Gauge({
    name: 'wecard_core_breaker_state',
    help: 'Circuit breaker of the external core: 1 for the current state (closed, open, half_open)',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const current = holder.breaker?.state;
      for (const s of BREAKER_STATES) this.set({ state: s }, current === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'wecard_core_breaker_consecutive_failures',
    help: 'Consecutive failed calls to the external core',
    registers,
    collect() {
      this.set(holder.breaker?.snapshot().consecutiveFailures ?? 0);
    },
  });
  const transitions = new Counter({ name: 'wecard_core_breaker_transitions_total', help: 'Breaker state changes by new state', labelNames: ['to'] as const, registers });
  const calls = new Counter({ name: 'wecard_core_calls_total', help: 'Calls to the external core by operation and outcome', labelNames: ['operation', 'outcome'] as const, registers });
  const duration = new Histogram({
    name: 'wecard_core_call_duration_seconds',
    help: 'Duration of calls to the external core, retries included',
    labelNames: ['operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4],
    registers,
  });
  const answers = new Counter({
    name: 'wecard_core_answers_total',
    help: 'Balance and statement answers by where they came from (core, cache, stale fallback, mirror, unavailable)',
    labelNames: ['kind', 'source'] as const,
    registers,
  });
  const cards = new Counter({ name: 'wecard_core_catch_up_cards_total', help: 'Cards caught up after the core was unreachable', registers });
  const txns = new Counter({ name: 'wecard_core_catch_up_transactions_total', help: 'Missed transactions mirrored by catch-up', registers });
  const uncovered = new Counter({
    name: 'wecard_calendar_uncovered_total',
    help: 'T+1 answers computed with the fallback calendar because the holiday table lacks the year (update chinese-days)',
    registers,
  });
  holder.metrics = {
    observeCall: (operation, outcome, seconds) => {
      calls.inc({ operation, outcome });
      if (outcome !== 'breaker_open') duration.observe({ operation }, seconds);
    },
    answer: (kind, source) => answers.inc({ kind, source }),
    transition: (to) => transitions.inc({ to }),
    caughtUp: (c, t) => {
      cards.inc(c);
      txns.inc(t);
    },
    calendarUncovered: () => uncovered.inc(),
    watch: (breaker) => {
      holder.breaker = breaker;
    },
  };
  perRegistry.set(registry, holder);
  return holder.metrics;
}
