// Business days in Asia/Shanghai and the T+1 instant: weekends, the official holiday schedule with 调休, and years the table lacks.
import { describe, expect, it } from 'vitest';
import {
  addDays,
  chinaCalendar,
  endOfShanghaiDay,
  fallbackIsWorkday,
  previousBusinessDay,
  shanghaiDate,
  t1Point,
  type WorkdayCalendar,
} from '../../../src/core/business-day.ts';

describe('business days', () => {
  it('reads the calendar date in Asia/Shanghai, not UTC', () => {
    expect(shanghaiDate(new Date('2026-01-04T15:59:59.999Z'))).toBe('2026-01-04');
    expect(shanghaiDate(new Date('2026-01-04T16:00:00.000Z'))).toBe('2026-01-05');
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
  });

  it('puts the end of a Shanghai day at its last millisecond (ledger asOf reads are inclusive)', () => {
    expect(endOfShanghaiDay('2026-01-05').toISOString()).toBe('2026-01-05T15:59:59.999Z');
  });

  it('reads T+1 on a Tuesday at the end of Monday', () => {
    const p = t1Point(new Date('2026-01-06T02:00:00Z'));
    expect(p).toEqual({ date: '2026-01-05', calendarCovered: true, asOf: new Date('2026-01-05T15:59:59.999Z') });
  });

  it('reads T+1 on a Monday at the end of Friday', () => {
    expect(t1Point(new Date('2026-01-12T01:00:00Z')).date).toBe('2026-01-09');
  });

  it('counts the time after midnight in Shanghai as the next day even while UTC is still on the previous one', () => {
    // 00:30 on Wednesday 7 January in Shanghai is 16:30 UTC on Tuesday.
    expect(t1Point(new Date('2026-01-06T16:30:00Z')).date).toBe('2026-01-06');
  });

  it('skips the Spring Festival holiday and counts its 调休 Saturday as a business day', () => {
    // 2026: Spring Festival 15–23 February off; Saturday 14 February is a working day.
    expect(chinaCalendar.isWorkday('2026-02-14')).toBe(true);
    expect(chinaCalendar.isWorkday('2026-02-16')).toBe(false);
    expect(t1Point(new Date('2026-02-24T02:00:00Z')).date).toBe('2026-02-14');
  });

  it('skips New Year holidays', () => {
    // 2026: 1–3 January off; Sunday 4 January is a 调休 working day.
    expect(previousBusinessDay(new Date('2026-01-04T02:00:00Z')).date).toBe('2025-12-31');
    expect(previousBusinessDay(new Date('2026-01-05T02:00:00Z')).date).toBe('2026-01-04');
  });

  it('says when a year had no official schedule and falls back to weekends and fixed-date holidays', () => {
    expect(chinaCalendar.covers(2026)).toBe(true);
    expect(chinaCalendar.covers(2099)).toBe(false);
    // Monday 4 January 2027: Friday 1 January is New Year's Day under the fallback too.
    const p = previousBusinessDay(new Date('2027-01-04T02:00:00Z'));
    expect(p).toEqual({ date: '2026-12-31', calendarCovered: false });
  });

  it('keeps weekends and fixed-date holidays off in the fallback rule', () => {
    expect(fallbackIsWorkday('2099-10-01')).toBe(false);
    expect(fallbackIsWorkday('2099-10-03')).toBe(false);
    expect(fallbackIsWorkday('2099-10-05')).toBe(true); // a Monday
    expect(fallbackIsWorkday('2099-10-04')).toBe(false); // a Sunday
    expect(fallbackIsWorkday('2099-05-02')).toBe(false);
  });

  it('refuses to guess when an injected calendar has no working day within a month', () => {
    const never: WorkdayCalendar = { isWorkday: () => false, covers: () => true };
    expect(() => previousBusinessDay(new Date('2026-01-06T02:00:00Z'), never)).toThrow(/calendar is broken/);
  });
});
