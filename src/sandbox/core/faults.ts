// Fault switches of the sandbox's simulated external core: down (connection reset or 503), slow (delay past the client's timeout), flaky (every n-th request fails).

export const CORE_FAULT_MODES = ['none', 'down', 'slow', 'flaky'] as const;
export type CoreFaultMode = (typeof CORE_FAULT_MODES)[number];

/** The longest delay the slow switch holds a request (a test hanging forever helps nobody). */
export const MAX_FAULT_DELAY_MS = 30_000;
export const DEFAULT_FAULT_DELAY_MS = 5_000;
export const MAX_FLAKY_EVERY = 1_000;

export interface CoreFaults {
  mode: CoreFaultMode;
  /** How `down` looks to the client: the connection dropped without an answer, or a 503. */
  downAs: 'reset' | '503';
  /** `slow`: each request waits this long before it is served. */
  delayMs: number;
  /** `flaky`: every n-th request (counting from the switch) answers 500. */
  every: number;
}

export type FaultAction = { kind: 'serve' } | { kind: 'reset' } | { kind: 'status'; status: 500 | 503 } | { kind: 'delay'; ms: number };

/** The sandbox core's current faults and its request counters (one per sandbox server). */
export class CoreFaultSwitch {
  #faults: CoreFaults = { mode: 'none', downAs: 'reset', delayMs: DEFAULT_FAULT_DELAY_MS, every: 3 };
  #sinceSwitch = 0;
  /** Contract requests received, whatever the faults did with them. */
  requests = 0;
  /** Contract requests served normally. */
  served = 0;

  get faults(): CoreFaults {
    return { ...this.#faults };
  }

  set(f: Partial<CoreFaults> & { mode: CoreFaultMode }): CoreFaults {
    const delayMs = Math.min(Math.max(Math.trunc(f.delayMs ?? this.#faults.delayMs), 0), MAX_FAULT_DELAY_MS);
    const every = Math.min(Math.max(Math.trunc(f.every ?? this.#faults.every), 1), MAX_FLAKY_EVERY);
    this.#faults = { mode: f.mode, downAs: f.downAs ?? this.#faults.downAs, delayMs, every };
    this.#sinceSwitch = 0;
    return this.faults;
  }

  /** What to do with the next request. */
  next(): FaultAction {
    this.requests++;
    this.#sinceSwitch++;
    const f = this.#faults;
    switch (f.mode) {
      case 'none':
        return { kind: 'serve' };
      case 'down':
        return f.downAs === 'reset' ? { kind: 'reset' } : { kind: 'status', status: 503 };
      case 'slow':
        return { kind: 'delay', ms: f.delayMs };
      case 'flaky':
        return this.#sinceSwitch % f.every === 0 ? { kind: 'status', status: 500 } : { kind: 'serve' };
    }
  }
}
