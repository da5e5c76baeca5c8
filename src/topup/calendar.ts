// The settlement calendar: when a top-up paid at an instant reaches the card system, per tenant rules and China's working-day calendar (pure).
import type { Policy } from '../tenants/index.ts';
import { workingDay } from '../identity/index.ts';

/** China has one time zone and no daylight saving: Asia/Shanghai is UTC+8 all year. */
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** A working-day calendar over Shanghai dates (`YYYY-MM-DD`); `covered` false = the fallback rule answered. */
export type DayCalendar = (date: string) => { working: boolean; covered: boolean };

/** The State Council schedule with 调休, from chinese-days (identity/working-days.ts reads its table). */
export const officialCalendar: DayCalendar = workingDay;

export type SettlementRules = Policy['settlement'];

/**
 * instant: real-time clearing on a working day before the cut-off;
 * after_cutoff: a working day at or after the cut-off (the evening batches, 1–2 h in the seed);
 * holiday: a weekend or statutory holiday (2–6 h);
 * end_of_day: a city that clears only in the end-of-day batch.
 */
export type SettleKind = 'instant' | 'after_cutoff' | 'holiday' | 'end_of_day';

export interface Arrival {
  kind: SettleKind;
  /** Earliest and latest arrival on the card system; equal for instant. `expectedArrival` is `latest`. */
  earliest: Date;
  latest: Date;
  /** Shanghai date of the payment and whether it is a working day. */
  date: string;
  workingDay: boolean;
  /** False when the calendar had no official schedule for the date: the operator must be alerted. */
  calendarCovered: boolean;
}

function shanghaiParts(at: Date): { date: string; minuteOfDay: number } {
  const local = new Date(at.getTime() + SHANGHAI_OFFSET_MS);
  return { date: local.toISOString().slice(0, 10), minuteOfDay: local.getUTCHours() * 60 + local.getUTCMinutes() };
}

function cutoffMinutes(hhmm: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m) throw new Error(`settlement cut-off ${hhmm} is not HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** 00:00 Shanghai of the day after `date`. */
function nextShanghaiMidnight(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) - SHANGHAI_OFFSET_MS + DAY_MS);
}

const plusMinutes = (at: Date, minutes: number) => new Date(at.getTime() + minutes * MINUTE_MS);

/**
 * When money paid at `at` arrives (DOMAIN.md, seed 002): instant on working days before the
 * cut-off (16:00), 1–2 h after it, 2–6 h on weekends and holidays; in an end-of-day city the day's
 * top-ups are cleared in one batch after 24:00 Shanghai and arrive within `batchMaxHours` of it.
 */
export function settlementArrival(rules: SettlementRules, at: Date, calendar: DayCalendar = officialCalendar): Arrival {
  const { date, minuteOfDay } = shanghaiParts(at);
  const day = calendar(date);
  const base = { date, workingDay: day.working, calendarCovered: day.covered };
  if (rules.clearing.mode === 'end_of_day') {
    const cut = nextShanghaiMidnight(date);
    return { ...base, kind: 'end_of_day', earliest: cut, latest: new Date(cut.getTime() + rules.clearing.batchMaxHours * 3_600_000) };
  }
  if (!day.working) {
    return { ...base, kind: 'holiday', earliest: plusMinutes(at, rules.holiday.minMinutes), latest: plusMinutes(at, rules.holiday.maxMinutes) };
  }
  if (minuteOfDay < cutoffMinutes(rules.instantCutoff)) return { ...base, kind: 'instant', earliest: at, latest: at };
  return { ...base, kind: 'after_cutoff', earliest: plusMinutes(at, rules.afterCutoff.minMinutes), latest: plusMinutes(at, rules.afterCutoff.maxMinutes) };
}

/** RFC 3339 in Shanghai time (`2026-03-18T17:30:00+08:00`), as the cardholder reads it. */
export function shanghaiRfc3339(at: Date): string {
  return `${new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** `HH:mm` Shanghai time for messages, with the date when it is not the same day as `now`. */
export function arrivalText(arrival: Date, now: Date): string {
  const a = shanghaiRfc3339(arrival);
  const sameDay = a.slice(0, 10) === shanghaiRfc3339(now).slice(0, 10);
  return sameDay ? a.slice(11, 16) : `${a.slice(5, 10)} ${a.slice(11, 16)}`;
}
