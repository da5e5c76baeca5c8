// The core's circuit breaker: opening after consecutive failures, refusing while open, half-open probes, recovery, and a model-checked property.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CircuitBreaker, type BreakerPermit, type BreakerState } from '../../../src/core/breaker.ts';
import { check, propertySeed } from '../shared/seed.ts';

const seed = propertySeed('core/breaker');

function clock(start = 0) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

const OPTS = { failureThreshold: 3, openMs: 1_000, halfOpenMaxProbes: 1, successesToClose: 1 };

function failTimes(b: CircuitBreaker, n: number): void {
  for (let i = 0; i < n; i++) b.acquire()!.failure();
}

describe('circuit breaker', () => {
  it('stays closed while failures are fewer than the threshold, and a success resets the count', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, OPTS);
    failTimes(b, 2);
    b.acquire()!.success();
    failTimes(b, 2);
    expect(b.state).toBe('closed');
    expect(b.snapshot().consecutiveFailures).toBe(2);
  });

  it('opens after the threshold of consecutive failures and refuses calls until the cool-down ends', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, OPTS);
    failTimes(b, 3);
    expect(b.state).toBe('open');
    expect(b.acquire()).toBeUndefined();
    c.advance(999);
    expect(b.acquire()).toBeUndefined();
    const s = b.snapshot();
    expect(s.openedAt?.getTime()).toBe(0);
    expect(s.probeAt?.getTime()).toBe(1_000);
    expect(s.opens).toBe(1);
  });

  it('lets one probe through after the cool-down and refuses others while it is out', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, OPTS);
    failTimes(b, 3);
    c.advance(1_000);
    const probe = b.acquire();
    expect(probe?.probe).toBe(true);
    expect(b.state).toBe('half_open');
    expect(b.acquire()).toBeUndefined();
    probe!.ignore();
    expect(b.acquire()?.probe).toBe(true);
  });

  it('closes when the probe succeeds and tells its listeners of the recovery', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, OPTS);
    const changes: string[] = [];
    b.onChange((from, to) => changes.push(`${from}->${to}`));
    failTimes(b, 3);
    c.advance(1_000);
    b.acquire()!.success();
    expect(b.state).toBe('closed');
    expect(b.snapshot().consecutiveFailures).toBe(0);
    expect(changes).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
  });

  it('opens again with a fresh cool-down when the probe fails', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, OPTS);
    failTimes(b, 3);
    c.advance(1_500);
    b.acquire()!.failure();
    expect(b.state).toBe('open');
    expect(b.snapshot().probeAt?.getTime()).toBe(2_500);
    c.advance(999);
    expect(b.acquire()).toBeUndefined();
    c.advance(1);
    expect(b.acquire()?.probe).toBe(true);
  });

  it('ignores the outcome of calls admitted before it opened', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, OPTS);
    const early = b.acquire()!;
    failTimes(b, 3);
    early.success();
    expect(b.state).toBe('open');
  });

  it('counts a permit once even when settled twice', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, OPTS);
    const p = b.acquire()!;
    p.failure();
    p.failure();
    p.failure();
    expect(b.snapshot().consecutiveFailures).toBe(1);
  });

  it('needs the configured number of successful probes to close', () => {
    const c = clock();
    const b = new CircuitBreaker(c.now, { ...OPTS, halfOpenMaxProbes: 2, successesToClose: 2 });
    failTimes(b, 3);
    c.advance(1_000);
    const p1 = b.acquire()!;
    const p2 = b.acquire()!;
    expect(b.acquire()).toBeUndefined();
    p1.success();
    expect(b.state).toBe('half_open');
    p2.success();
    expect(b.state).toBe('closed');
  });

  it('refuses nonsensical options', () => {
    expect(() => new CircuitBreaker(() => new Date(), { failureThreshold: 0 })).toThrow();
    expect(() => new CircuitBreaker(() => new Date(), { openMs: -1 })).toThrow();
  });

  it('only ever moves along the allowed edges and admits exactly what the model allows (property)', () => {
    type Cmd = { op: 'acquire' } | { op: 'settle'; ok: boolean; which: number } | { op: 'advance'; ms: number };
    const cmd = fc.oneof(
      fc.constant<Cmd>({ op: 'acquire' }),
      fc.record({ op: fc.constant('settle' as const), ok: fc.boolean(), which: fc.nat(10) }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
    );
    const allowed = new Set(['closed->open', 'open->half_open', 'half_open->open', 'half_open->closed']);
    check(
      seed,
      fc.property(fc.array(cmd, { maxLength: 80 }), (cmds) => {
        const c = clock();
        const b = new CircuitBreaker(c.now, OPTS);
        const edges: string[] = [];
        b.onChange((from, to) => edges.push(`${from}->${to}`));
        const open: BreakerPermit[] = [];
        for (const k of cmds) {
          if (k.op === 'advance') c.advance(k.ms);
          else if (k.op === 'acquire') {
            const before: BreakerState = b.state;
            const snap = b.snapshot();
            const p = b.acquire();
            // Model: open before the probe time refuses; half-open refuses beyond the probe budget.
            if (before === 'open' && c.now().getTime() < snap.probeAt!.getTime()) expect(p).toBeUndefined();
            if (before === 'closed') expect(p?.probe).toBe(false);
            if (p) open.push(p);
          } else if (open.length > 0) {
            const p = open.splice(k.which % open.length, 1)[0]!;
            if (k.ok) p.success();
            else p.failure();
          }
          if (b.state === 'closed') expect(b.snapshot().consecutiveFailures).toBeLessThan(OPTS.failureThreshold);
        }
        for (const e of edges) expect(allowed.has(e)).toBe(true);
      }),
    );
  });
});
