// Business days in Asia/Shanghai and the T+1 instant (end of the previous business day) that no-bind balances are read at.
import chineseDays from 'chinese-days';

/** China has no daylight saving time: Asia/Shanghai is UTC+8 all year. */
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
/**
 * The longest run of non-working days the State Council schedules is 8–9 days (Spring Festival,
 * National Day); a month of look-back without a working day means a broken calendar, not a holiday.
 */
export const MAX_BUSINESS_DAY_LOOKBACK = 31;

/** A working-day calendar over `YYYY-MM-DD` dates (Asia/Shanghai). */
export interface WorkdayCalendar {
  isWorkday(date: string): boolean;
  /** Whether the calendar has the official schedule for this year (else it falls back). */
  covers(year: number): boolean;
}

/**
 * Fixed-date public holidays (《全国年节及纪念日放假办法》, 2024 revision: New Year's Day, Labour Day
 * 1–2 May, National Day 1–3 October). The lunar ones (Spring Festival, Qingming, Dragon Boat,
 * Mid-Autumn) and the 调休 swaps exist only in the yearly notice, so a year without it can only
 * be guessed conservatively (DOMAIN.md: weekends and fixed-date holidays off).
 */
const FIXED_HOLIDAYS = new Set(['01-01', '05-01', '05-02', '10-01', '10-02', '10-03']);

/** The fallback rule for years the table lacks: weekends and fixed-date holidays are not working days. */
export function fallbackIsWorkday(date: string): boolean {
  const d = new Date(`${date}T00:00:00Z`);
  const dow = d.getUTCDay();
  return dow !== 0 && dow !== 6 && !FIXED_HOLIDAYS.has(date.slice(5));
}

const coveredYears = new Map<number, boolean>();

/**
 * The official schedule from `chinese-days` (with 调休), for the years it has; other years use
 * `fallbackIsWorkday`. The package calls days of years it lacks ordinary weekdays, so coverage is
 * read from its data: a year it knows has at least one listed holiday.
 */
export const chinaCalendar: WorkdayCalendar = {
  covers(year: number): boolean {
    let c = coveredYears.get(year);
    if (c === undefined) {
      c = chineseDays.getHolidaysInRange(`${year}-01-01`, `${year}-12-31`, false).length > 0;
      coveredYears.set(year, c);
    }
    return c;
  },
  isWorkday(date: string): boolean {
    return this.covers(Number(date.slice(0, 4))) ? chineseDays.isWorkday(date) : fallbackIsWorkday(date);
  },
};

/** The Asia/Shanghai calendar date of an instant, `YYYY-MM-DD`. */
export function shanghaiDate(instant: Date): string {
  return new Date(instant.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD` shifted by whole days. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** 00:00 Asia/Shanghai of a date, as an instant. */
export function startOfShanghaiDay(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) - SHANGHAI_OFFSET_MS);
}

/** The last millisecond of a date in Asia/Shanghai (ledger `asOf` reads are inclusive). */
export function endOfShanghaiDay(date: string): Date {
  return new Date(startOfShanghaiDay(addDays(date, 1)).getTime() - 1);
}

export interface PreviousBusinessDay {
  /** `YYYY-MM-DD` of the latest working day strictly before today (Asia/Shanghai). */
  date: string;
  /** False when a year on the way had no official schedule and the fallback rule decided. */
  calendarCovered: boolean;
}

export function previousBusinessDay(now: Date, calendar: WorkdayCalendar = chinaCalendar): PreviousBusinessDay {
  const today = shanghaiDate(now);
  let covered = true;
  let d = today;
  for (let i = 0; i < MAX_BUSINESS_DAY_LOOKBACK; i++) {
    d = addDays(d, -1);
    if (!calendar.covers(Number(d.slice(0, 4)))) covered = false;
    if (calendar.isWorkday(d)) return { date: d, calendarCovered: covered };
  }
  throw new Error(`no working day in the ${MAX_BUSINESS_DAY_LOOKBACK} days before ${today}: the calendar is broken`);
}

export interface T1Point extends PreviousBusinessDay {
  /** The instant a T+1 balance is read at: the end of the previous business day. */
  asOf: Date;
}

/** The T+1 reading point for an answer given at `now` (DOMAIN.md: no-bind answers carry T+1 data). */
export function t1Point(now: Date, calendar: WorkdayCalendar = chinaCalendar): T1Point {
  const p = previousBusinessDay(now, calendar);
  return { ...p, asOf: endOfShanghaiDay(p.date) };
}
