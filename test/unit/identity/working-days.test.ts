// Working days with 调休 (chinese-days' table) and the cancelled-card access deadline, across 国庆 and 春节, and past the table.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isWorkday } from 'chinese-days';
import {
  CALENDAR_COVERAGE,
  addWorkingDays,
  cancellationAccessDeadline,
  nextDailyRunAt,
  shanghaiDay,
  shanghaiDayStart,
  workingDay,
} from '../../../src/identity/working-days.ts';
import { check, propertySeed } from '../shared/seed.ts';

/** The end of a Shanghai calendar day (= the next day's 00:00 +08:00). */
const endOf = (day: string) => new Date(Date.parse(`${day}T00:00:00+08:00`) + 86_400_000);
const shanghai = (local: string) => new Date(`${local}+08:00`);

describe('working days', () => {
  it('knows the 2025 National Day holiday and its make-up working days (Sep 28 and Oct 11)', () => {
    for (const d of ['2025-10-01', '2025-10-04', '2025-10-08']) expect(workingDay(d)).toEqual({ working: false, covered: true });
    expect(workingDay('2025-09-28')).toEqual({ working: true, covered: true }); // a Sunday worked
    expect(workingDay('2025-10-11')).toEqual({ working: true, covered: true }); // a Saturday worked
    expect(workingDay('2025-10-09').working).toBe(true);
    expect(workingDay('2025-10-12').working).toBe(false);
  });

  it('knows the 2026 Spring Festival holiday and its make-up Saturdays (Feb 14 and Feb 28)', () => {
    for (const d of ['2026-02-15', '2026-02-17', '2026-02-23']) expect(workingDay(d).working).toBe(false);
    expect(workingDay('2026-02-14').working).toBe(true);
    expect(workingDay('2026-02-28').working).toBe(true);
    expect(workingDay('2026-02-24').working).toBe(true);
  });

  it('falls back to weekends and fixed-date holidays past the table, and says so', () => {
    const after = CALENDAR_COVERAGE.lastYear + 1;
    expect(workingDay(`${after}-10-01`).covered).toBe(false);
    expect(workingDay(`${after}-10-01`).working).toBe(false);
    expect(workingDay(`${after}-01-01`).working).toBe(false);
    expect(workingDay(`${after}-05-02`).working).toBe(false);
    expect(addWorkingDays(`${CALENDAR_COVERAGE.lastYear}-12-30`, 3).covered).toBe(false);
  });

  it("agrees with chinese-days' own isWorkday on every day of 2024–2026", () => {
    // Its date functions use the process's local time: compare only where that is UTC (as in CI).
    if (new Date(0).getTimezoneOffset() !== 0) return;
    for (let ms = Date.parse('2024-01-01T00:00:00Z'); ms <= Date.parse('2026-12-31T00:00:00Z'); ms += 86_400_000) {
      const day = new Date(ms).toISOString().slice(0, 10);
      expect(workingDay(day).working, day).toBe(isWorkday(day));
    }
  });

  it('counts working days across a holiday', () => {
    expect(addWorkingDays('2025-09-30', 1)).toEqual({ day: '2025-10-09', covered: true });
    expect(addWorkingDays('2026-02-13', 2)).toEqual({ day: '2026-02-24', covered: true });
  });
});

describe('cancelled card access deadline (7 working days at the latest)', () => {
  it('runs over the National Day week, counting the make-up Saturday', () => {
    // Tue 30 Sep: Oct 1–8 off; 9, 10, 11 (Sat, worked), 13, 14, 15, 16 → end of Thu 16 Oct.
    expect(cancellationAccessDeadline(shanghai('2025-09-30T10:00:00'), 7)).toEqual({ deadline: endOf('2025-10-16'), covered: true });
    // Fri 26 Sep: 28 (Sun, worked), 29, 30, then 9, 10, 11, 13 → end of Mon 13 Oct.
    expect(cancellationAccessDeadline(shanghai('2025-09-26T18:30:00'), 7)).toEqual({ deadline: endOf('2025-10-13'), covered: true });
  });

  it('runs over the Spring Festival, counting both make-up Saturdays', () => {
    // Thu 12 Feb 2026: 13, 14 (Sat, worked), Feb 15–23 off, 24, 25, 26, 27, 28 (Sat, worked) → end of 28 Feb.
    expect(cancellationAccessDeadline(shanghai('2026-02-12T09:00:00'), 7)).toEqual({ deadline: endOf('2026-02-28'), covered: true });
  });

  it('counts from the Shanghai calendar day, not the UTC one', () => {
    // 17:00 UTC on 30 Sep is 01:00 on 1 Oct in Shanghai: counting starts inside the holiday.
    const r = cancellationAccessDeadline(new Date('2025-09-30T17:00:00Z'), 1);
    expect(r.deadline).toEqual(endOf('2025-10-09'));
    expect(shanghaiDay(new Date('2025-09-30T17:00:00Z'))).toBe('2025-10-01');
  });

  it('with 0 working days closes access by the end of the cancellation day', () => {
    expect(cancellationAccessDeadline(shanghai('2025-10-02T12:00:00'), 0).deadline).toEqual(endOf('2025-10-02'));
  });

  it('past the table uses the fallback and reports the calendar as uncovered', () => {
    // Wed 29 Sep 2027: 30, [1–3 Oct off], 4, 5, 6, 7, 8, [9, 10 weekend], 11 → end of Mon 11 Oct.
    expect(CALENDAR_COVERAGE.lastYear).toBeLessThan(2027);
    expect(cancellationAccessDeadline(shanghai('2027-09-29T10:00:00'), 7)).toEqual({ deadline: endOf('2027-10-11'), covered: false });
  });

  it('always leaves exactly n working days after the cancellation day (property)', () => {
    const seed = propertySeed('identity-working-days');
    const from = Date.parse('2004-01-01T00:00:00Z');
    const to = Date.parse(`${CALENDAR_COVERAGE.lastYear}-11-30T00:00:00Z`);
    check(
      seed,
      fc.property(fc.integer({ min: from, max: to }), fc.integer({ min: 1, max: 15 }), (ms, n) => {
        const at = new Date(ms);
        const { deadline } = cancellationAccessDeadline(at, n);
        const lastDay = shanghaiDay(new Date(deadline.getTime() - 1));
        expect(workingDay(lastDay).working).toBe(true);
        let count = 0;
        for (let d = shanghaiDay(at); d !== lastDay; ) {
          d = shanghaiDay(new Date(shanghaiDayStart(d).getTime() + 86_400_000));
          if (workingDay(d).working) count++;
        }
        expect(count).toBe(n);
      }),
      300,
    );
  });
});

describe('daily sweep schedule', () => {
  it('runs at the next 02:00 Asia/Shanghai', () => {
    expect(nextDailyRunAt(shanghai('2026-03-01T01:59:00'))).toEqual(shanghai('2026-03-01T02:00:00'));
    expect(nextDailyRunAt(shanghai('2026-03-01T02:00:00'))).toEqual(shanghai('2026-03-02T02:00:00'));
    expect(nextDailyRunAt(shanghai('2026-03-01T23:00:00'))).toEqual(shanghai('2026-03-02T02:00:00'));
  });
});
