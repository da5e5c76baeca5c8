// A circuit breaker for calls to a remote core: closed → open after consecutive failures, half-open probes after a cool-down, closed again on success.

export type BreakerState = 'closed' | 'open' | 'half_open';
export const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half_open'];

export interface BreakerOptions {
  /** Consecutive failed calls that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before it lets a probe through. */
  openMs: number;
  /** Probe calls allowed at once while half-open; the others are refused as if open. */
  halfOpenMaxProbes: number;
  /** Successful probes that close the breaker again. */
  successesToClose: number;
}

/**
 * Five failures in a row is a core that is down, not a blip (one request's retries are already
 * one failure); ten seconds between probes keeps a recovering core from a stampede while users
 * get cached answers meanwhile.
 */
export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = {
  failureThreshold: 5,
  openMs: 10_000,
  halfOpenMaxProbes: 1,
  successesToClose: 1,
};

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened; null while it never has. */
  openedAt: Date | null;
  /** While open: when the next probe may go. */
  probeAt: Date | null;
  /** Times it opened since start (a counter for the ops console). */
  opens: number;
}

/** One admitted call. Settle it exactly once: `success`, `failure`, or `ignore` (no verdict). */
export interface BreakerPermit {
  readonly probe: boolean;
  success(): void;
  failure(): void;
  ignore(): void;
}

export type BreakerListener = (from: BreakerState, to: BreakerState, at: Date) => void;

function checkOptions(o: BreakerOptions): void {
  const positive = (n: number) => Number.isInteger(n) && n >= 1;
  if (!positive(o.failureThreshold) || !positive(o.halfOpenMaxProbes) || !positive(o.successesToClose) || !Number.isFinite(o.openMs) || o.openMs < 0) {
    throw new Error('breaker options: counts must be integers ≥ 1 and openMs ≥ 0');
  }
}

/**
 * Time comes from `now` (the context's clock), so tests drive the cool-down by hand. The breaker
 * counts calls, not attempts: a read that succeeded on its second try is a success.
 */
export class CircuitBreaker {
  readonly options: BreakerOptions;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAtMs: number | null = null;
  #probesInFlight = 0;
  #probeSuccesses = 0;
  #opens = 0;
  readonly #listeners: BreakerListener[] = [];

  constructor(
    private readonly now: () => Date,
    options: Partial<BreakerOptions> = {},
  ) {
    this.options = { ...DEFAULT_BREAKER_OPTIONS, ...options };
    checkOptions(this.options);
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Called on every state change (metrics, logs, the catch-up trigger on recovery). */
  onChange(listener: BreakerListener): void {
    this.#listeners.push(listener);
  }

  snapshot(): BreakerSnapshot {
    const openedAt = this.#openedAtMs === null ? null : new Date(this.#openedAtMs);
    return {
      state: this.#state,
      consecutiveFailures: this.#failures,
      openedAt,
      probeAt: this.#state === 'open' && this.#openedAtMs !== null ? new Date(this.#openedAtMs + this.options.openMs) : null,
      opens: this.#opens,
    };
  }

  /** A permit for one call, or undefined when the breaker refuses it (open, or half-open with its probes out). */
  acquire(): BreakerPermit | undefined {
    if (this.#state === 'open') {
      const t = this.now().getTime();
      if (this.#openedAtMs !== null && t < this.#openedAtMs + this.options.openMs) return undefined;
      this.#moveTo('half_open');
    }
    if (this.#state === 'half_open') {
      if (this.#probesInFlight >= this.options.halfOpenMaxProbes) return undefined;
      this.#probesInFlight++;
      return this.#permit(true);
    }
    return this.#permit(false);
  }

  #permit(probe: boolean): BreakerPermit {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    return {
      probe,
      success: () => settle(() => (probe ? this.#probeDone(true) : this.#closedDone(true))),
      failure: () => settle(() => (probe ? this.#probeDone(false) : this.#closedDone(false))),
      ignore: () => settle(() => {
        if (probe && this.#state === 'half_open') this.#probesInFlight--;
      }),
    };
  }

  /** Outcomes of calls admitted while closed only count while it is still closed. */
  #closedDone(ok: boolean): void {
    if (this.#state !== 'closed') return;
    if (ok) {
      this.#failures = 0;
      return;
    }
    this.#failures++;
    if (this.#failures >= this.options.failureThreshold) this.#open();
  }

  #probeDone(ok: boolean): void {
    if (this.#state !== 'half_open') return;
    this.#probesInFlight--;
    if (!ok) {
      this.#failures++;
      this.#open();
      return;
    }
    this.#probeSuccesses++;
    if (this.#probeSuccesses >= this.options.successesToClose) {
      this.#failures = 0;
      this.#moveTo('closed');
    }
  }

  #open(): void {
    this.#openedAtMs = this.now().getTime();
    this.#opens++;
    this.#moveTo('open');
  }

  #moveTo(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    const at = this.now();
    for (const l of this.#listeners) {
      try {
        l(from, to, at);
      } catch {
        // A listener's failure must not break the caller's request; listeners log their own errors.
      }
    }
  }
}
