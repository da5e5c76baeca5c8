// Mainland working days (State Council schedule with 调休, from chinese-days' table) and the cancelled-card access deadline.
import { createRequire } from 'node:module';

/**
 * chinese-days' published table: holidays and the weekend days that become working days (调休).
 * Read as data, not through its date functions, which mix UTC parsing with local-time weekdays
 * and would shift a day on a server outside UTC+8.
 */
interface HolidayTable {
  holidays: Record<string, string>;
  workdays: Record<string, string>;
}
const table = createRequire(import.meta.url)('chinese-days/dist/chinese-days.json') as HolidayTable;

/** China has one time zone and no daylight saving since 1991: Asia/Shanghai is UTC+8. */
const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Past the table, days off are weekends and these fixed-date statutory holidays (国务院《全国年节及纪念日放假办法》, 2024 revision): 元旦, 劳动节 (2 days), 国庆节 (3 days). */
const FIXED_DATE_HOLIDAYS: ReadonlySet<string> = new Set(['01-01', '05-01', '05-02', '10-01', '10-02', '10-03']);
/** Longest run of days a working-day count may walk (bounds the loop; no holiday is this long). */
const MAX_WALK_DAYS = 400;

function yearsOf(keys: string[]): number[] {
  return [...new Set(keys.map((k) => Number(k.slice(0, 4))))].sort((a, b) => a - b);
}

const covered = yearsOf(Object.keys(table.holidays));
/** The years the table has the official schedule for (a year is published late Oct – early Dec of the year before). */
export const CALENDAR_COVERAGE = { firstYear: covered[0]!, lastYear: covered[covered.length - 1]! } as const;

/** `YYYY-MM-DD` of the Asia/Shanghai calendar day `at` falls on. */
export function shanghaiDay(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** The instant a Shanghai calendar day starts (00:00 +08:00). */
export function shanghaiDayStart(day: string): Date {
  return new Date(Date.parse(`${day}T00:00:00Z`) - SHANGHAI_OFFSET_MS);
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

export interface DayKind {
  working: boolean;
  /** False when the table has no schedule for the year: the answer is the conservative fallback. */
  covered: boolean;
}

/** Whether a Shanghai calendar day (`YYYY-MM-DD`) is a working day. */
export function workingDay(day: string): DayKind {
  const year = Number(day.slice(0, 4));
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
  const weekend = weekday === 0 || weekday === 6;
  if (year >= CALENDAR_COVERAGE.firstYear && year <= CALENDAR_COVERAGE.lastYear) {
    if (table.workdays[day]) return { working: true, covered: true };
    return { working: !weekend && !table.holidays[day], covered: true };
  }
  return { working: !weekend && !FIXED_DATE_HOLIDAYS.has(day.slice(5)), covered: false };
}

/** The n-th working day after `day` (n ≥ 1), and whether every day walked was covered by the table. */
export function addWorkingDays(day: string, n: number): { day: string; covered: boolean } {
  let d = day;
  let left = n;
  let allCovered = true;
  for (let walked = 0; left > 0; walked++) {
    if (walked >= MAX_WALK_DAYS) throw new Error('working-day walk exceeded its bound');
    d = nextDay(d);
    const k = workingDay(d);
    allCovered &&= k.covered;
    if (k.working) left--;
  }
  return { day: d, covered: allCovered };
}

/**
 * When channel access to a card cancelled at `cancelledAt` must be closed at the latest: the end
 * of the `workingDays`-th working day after the cancellation day (DOMAIN.md: "a cancelled card
 * loses WeChat access within 7 working days at the latest"; policy.cancellation). With 0, the end
 * of the cancellation day itself. `covered` false means part of the count used the fallback rule
 * and an operator should check the deadline against the year's official schedule.
 */
export function cancellationAccessDeadline(cancelledAt: Date, workingDays: number): { deadline: Date; covered: boolean } {
  const start = shanghaiDay(cancelledAt);
  if (workingDays <= 0) return { deadline: shanghaiDayStart(nextDay(start)), covered: workingDay(start).covered };
  const r = addWorkingDays(start, workingDays);
  return { deadline: shanghaiDayStart(nextDay(r.day)), covered: r.covered };
}

/** The daily sweep's next run: the next 02:00 Asia/Shanghai strictly after `now`. */
export function nextDailyRunAt(now: Date, hourShanghai = 2): Date {
  const today = shanghaiDay(now);
  const candidate = new Date(shanghaiDayStart(today).getTime() + hourShanghai * 60 * 60 * 1000);
  return candidate.getTime() > now.getTime() ? candidate : new Date(candidate.getTime() + DAY_MS);
}
