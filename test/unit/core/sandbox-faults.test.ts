// The sandbox core's fault switch: down as reset or 503, slow with a bounded delay, flaky failing every n-th request.
import { describe, expect, it } from 'vitest';
import { CoreFaultSwitch, MAX_FAULT_DELAY_MS } from '../../../src/sandbox/core/faults.ts';

describe('sandbox core faults', () => {
  it('serves every request with no fault set', () => {
    const f = new CoreFaultSwitch();
    expect([f.next(), f.next()]).toEqual([{ kind: 'serve' }, { kind: 'serve' }]);
    expect(f.requests).toBe(2);
  });

  it('drops the connection or answers 503 when down', () => {
    const f = new CoreFaultSwitch();
    f.set({ mode: 'down' });
    expect(f.next()).toEqual({ kind: 'reset' });
    f.set({ mode: 'down', downAs: '503' });
    expect(f.next()).toEqual({ kind: 'status', status: 503 });
  });

  it('fails exactly every n-th request after the switch when flaky', () => {
    const f = new CoreFaultSwitch();
    f.next();
    f.set({ mode: 'flaky', every: 3 });
    const kinds = Array.from({ length: 7 }, () => f.next().kind);
    expect(kinds).toEqual(['serve', 'serve', 'status', 'serve', 'serve', 'status', 'serve']);
  });

  it('bounds the slow delay', () => {
    const f = new CoreFaultSwitch();
    f.set({ mode: 'slow', delayMs: 10 * MAX_FAULT_DELAY_MS });
    expect(f.next()).toEqual({ kind: 'delay', ms: MAX_FAULT_DELAY_MS });
  });
});
