// Pure calendar rules of the daily batch export: Asia/Shanghai days, their instants, and when the daily job runs.

/** China Standard Time is UTC+8 all year (no daylight saving since 1991). */
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
/** The export runs at this hour (Shanghai) for the day before: late payment notifications have come in by then. */
export const DAILY_EXPORT_HOUR = 2;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function isDay(day: string): boolean {
  if (!DAY.test(day)) return false;
  const t = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === day;
}

/** The Shanghai calendar day of an instant, `YYYY-MM-DD`. */
export function shanghaiDay(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** The day's instants: [from, to), Shanghai midnight to midnight. */
export function dayBounds(day: string): { from: Date; to: Date } {
  if (!isDay(day)) throw new RangeError(`not a day: ${day}`);
  const from = new Date(Date.parse(`${day}T00:00:00Z`) - SHANGHAI_OFFSET_MS);
  return { from, to: new Date(from.getTime() + DAY_MS) };
}

export function previousDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
}

/** The first DAILY_EXPORT_HOUR:00 Shanghai strictly after `now`. */
export function nextExportRunAt(now: Date): Date {
  const today = dayBounds(shanghaiDay(now)).from.getTime() + DAILY_EXPORT_HOUR * 3_600_000;
  return new Date(today > now.getTime() ? today : today + DAY_MS);
}

/** RFC 3339 in Shanghai time (`2026-03-01T10:00:00+08:00`), as the business files of the region carry it. */
export function shanghaiRfc3339(at: Date): string {
  return `${new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}
