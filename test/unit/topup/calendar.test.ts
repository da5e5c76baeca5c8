// The settlement calendar: instant before the 16:00 cut-off on working days, evening and holiday windows, 调休 Saturdays, end-of-day cities, years the table lacks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { settlementArrival, shanghaiRfc3339, arrivalText, type SettlementRules } from '../../../src/topup/calendar.ts';
import { presetPolicy } from '../../../src/tenants/index.ts';
import { check, propertySeed } from '../shared/seed.ts';

const rules: SettlementRules = presetPolicy('citizen-card').settlement;
const at = (shanghai: string) => new Date(`${shanghai}+08:00`);
const local = (d: Date) => shanghaiRfc3339(d).slice(0, 16);

describe('settlement calendar', () => {
  it('settles instantly on a working day just before 16:00', () => {
    const a = settlementArrival(rules, at('2026-03-18T15:59:59'));
    expect(a.kind).toBe('instant');
    expect(a.latest).toEqual(at('2026-03-18T15:59:59'));
    expect(a.workingDay).toBe(true);
    expect(a.calendarCovered).toBe(true);
  });

  it('moves a payment at 16:00 sharp into the evening window of one to two hours', () => {
    const a = settlementArrival(rules, at('2026-03-18T16:00:00'));
    expect(a.kind).toBe('after_cutoff');
    expect(local(a.earliest)).toBe('2026-03-18T17:00');
    expect(local(a.latest)).toBe('2026-03-18T18:00');
  });

  it('treats midnight on a working day as before the cut-off', () => {
    expect(settlementArrival(rules, at('2026-03-19T00:00:00')).kind).toBe('instant');
  });

  it('uses the two-to-six-hour holiday window on an ordinary weekend', () => {
    const a = settlementArrival(rules, at('2026-03-21T10:00:00'));
    expect(a.kind).toBe('holiday');
    expect(a.workingDay).toBe(false);
    expect(local(a.earliest)).toBe('2026-03-21T12:00');
    expect(local(a.latest)).toBe('2026-03-21T16:00');
  });

  it('settles instantly on a 调休 working Saturday before the cut-off and in the evening window after it', () => {
    // 2026-10-10 is a Saturday made a working day for the National Day holiday.
    const morning = settlementArrival(rules, at('2026-10-10T10:00:00'));
    expect(morning.kind).toBe('instant');
    expect(morning.workingDay).toBe(true);
    expect(settlementArrival(rules, at('2026-10-10T17:00:00')).kind).toBe('after_cutoff');
  });

  it('uses the holiday window on a National Day weekday', () => {
    // 2026-10-01 is a Thursday inside the National Day holiday.
    const a = settlementArrival(rules, at('2026-10-01T09:00:00'));
    expect(a.kind).toBe('holiday');
    expect(local(a.latest)).toBe('2026-10-01T15:00');
  });

  it('clears an end-of-day city in the batch after midnight, within its batch hours', () => {
    const eod: SettlementRules = { ...rules, clearing: { mode: 'end_of_day', batchMaxHours: 12 } };
    const a = settlementArrival(eod, at('2026-03-18T10:00:00'));
    expect(a.kind).toBe('end_of_day');
    expect(local(a.earliest)).toBe('2026-03-19T00:00');
    expect(local(a.latest)).toBe('2026-03-19T12:00');
  });

  it('flags a year the official table does not cover and falls back to weekends and fixed-date holidays', () => {
    const weekday = settlementArrival(rules, at('2040-03-14T10:00:00'));
    expect(weekday.calendarCovered).toBe(false);
    expect(weekday.kind).toBe('instant');
    expect(settlementArrival(rules, at('2040-10-01T10:00:00')).kind).toBe('holiday');
    expect(settlementArrival(rules, at('2040-03-17T10:00:00')).kind).toBe('holiday');
  });

  it('writes arrival times in Shanghai time, with the date only when it is another day', () => {
    expect(arrivalText(at('2026-03-18T18:00:00'), at('2026-03-18T16:30:00'))).toBe('18:00');
    expect(arrivalText(at('2026-03-19T01:00:00'), at('2026-03-18T23:30:00'))).toBe('03-19 01:00');
  });

  const seed = propertySeed('test/unit/topup/calendar.test.ts');
  it('never promises an arrival before the payment or past the largest window', () => {
    const start = Date.parse('2025-01-01T00:00:00Z');
    const end = Date.parse('2027-12-31T00:00:00Z');
    check(
      seed,
      fc.property(fc.integer({ min: start, max: end }), (ms) => {
        const paid = new Date(ms);
        const a = settlementArrival(rules, paid);
        expect(a.earliest.getTime()).toBeGreaterThanOrEqual(paid.getTime());
        expect(a.latest.getTime()).toBeGreaterThanOrEqual(a.earliest.getTime());
        expect(a.latest.getTime() - paid.getTime()).toBeLessThanOrEqual(rules.holiday.maxMinutes * 60_000);
        if (a.kind === 'instant') expect(a.workingDay).toBe(true);
      }),
    );
  });
});
