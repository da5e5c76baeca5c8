// Pure rules of the accounts module: the statement window a tenant allows, month buckets for trends, totals per currency.
import { AppError, type FieldError } from '../app/errors.ts';
import { addMonths, type Policy } from '../tenants/index.ts';

/** China has kept no daylight saving time since 1991: Asia/Shanghai is UTC+8 all year. */
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** Trends reach back at most this many calendar months (issue 5: "up to 24 months"). */
export const MAX_TREND_MONTHS = 24;
export const DEFAULT_TREND_MONTHS = 12;

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH_PATTERN = /^(\d{4})-(\d{2})$/;
/** RFC 3339 with a mandatory offset (API.md: times carry one). */
const DATE_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** `YYYY-MM-DD` of an instant in Asia/Shanghai. */
export function shanghaiDay(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** 00:00 Asia/Shanghai of `YYYY-MM-DD`. */
export function startOfDay(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) - SHANGHAI_OFFSET_MS);
}

/** The last millisecond of `YYYY-MM-DD` in Asia/Shanghai (statement bounds are inclusive). */
export function endOfDay(date: string): Date {
  return new Date(startOfDay(date).getTime() + DAY_MS - 1);
}

/** `YYYY-MM` of an instant in Asia/Shanghai. */
export function shanghaiMonth(at: Date): string {
  return shanghaiDay(at).slice(0, 7);
}

/** 00:00 Asia/Shanghai on the first of `YYYY-MM`, shifted by `delta` months. */
export function startOfMonth(month: string, delta = 0): Date {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1 + delta, 1) - SHANGHAI_OFFSET_MS);
}

function validDate(text: string): boolean {
  const m = DATE_PATTERN.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

type Bound = { at: Date; dateOnly: boolean } | { error: string };

/** A `from`/`to` value: a calendar date (a whole Shanghai day) or an RFC 3339 date-time with offset. */
function parseBound(text: string, end: boolean): Bound {
  if (validDate(text)) return { at: end ? endOfDay(text) : startOfDay(text), dateOnly: true };
  if (DATE_TIME_PATTERN.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms) && validDate(text.slice(0, 10))) return { at: new Date(ms), dateOnly: false };
  }
  return { error: 'must be a date (YYYY-MM-DD, Asia/Shanghai) or an RFC 3339 date-time with offset' };
}

export interface RangeQuery {
  from?: string | undefined;
  to?: string | undefined;
  /** `YYYY-MM`: one calendar month (Asia/Shanghai), the page unit of paged statements. */
  month?: string | undefined;
}

export interface StatementRange {
  from: Date;
  to: Date;
  /** The earliest instant this tenant's statements reach back to (start of that Shanghai day). */
  earliest: Date;
  /** The latest instant a statement may reach: the end of today (Asia/Shanghai). */
  latest: Date;
  mode: Policy['statements']['mode'];
  maxMonths: number;
}

/**
 * The window of a statement under the tenant's policy (policy.statements):
 * - every statement reaches back at most `maxMonths` (6 months, 1 year, 2 years…), to the start of
 *   that Shanghai day, and forward to the end of today;
 * - `paged` tenants show the statement as pages back in time: the whole window paged by cursor,
 *   or one calendar month (`month=YYYY-MM`); a free `from`/`to` is refused, naming the mode;
 * - `custom_range` tenants accept any `from`/`to` inside the window (or a month).
 * Every problem is a validation_failed field error; nothing is silently clamped except a month
 * that starts before the window (its first days are cut to the window, as the page shows).
 */
export function statementRange(statements: Policy['statements'], q: RangeQuery, now: Date): StatementRange {
  const earliest = startOfDay(shanghaiDay(addMonths(now, -statements.maxMonths)));
  const latest = endOfDay(shanghaiDay(now));
  const base = { earliest, latest, mode: statements.mode, maxMonths: statements.maxMonths };
  const errors: FieldError[] = [];
  const windowText = `statements here reach back ${statements.maxMonths} months, to ${shanghaiDay(earliest)}`;

  if (q.month !== undefined) {
    if (q.from !== undefined || q.to !== undefined) {
      throw AppError.validation([{ field: 'month', message: 'cannot be combined with from or to' }]);
    }
    if (!MONTH_PATTERN.test(q.month) || !validDate(`${q.month}-01`)) {
      throw AppError.validation([{ field: 'month', message: 'must be YYYY-MM' }]);
    }
    const start = startOfMonth(q.month);
    const end = new Date(startOfMonth(q.month, 1).getTime() - 1);
    if (end.getTime() < earliest.getTime()) errors.push({ field: 'month', message: `is before the statement window: ${windowText}` });
    if (start.getTime() > latest.getTime()) errors.push({ field: 'month', message: 'must not be in the future' });
    if (errors.length > 0) throw AppError.validation(errors);
    return { ...base, from: new Date(Math.max(start.getTime(), earliest.getTime())), to: new Date(Math.min(end.getTime(), latest.getTime())) };
  }

  if (statements.mode === 'paged') {
    for (const f of ['from', 'to'] as const) {
      if (q[f] !== undefined) {
        errors.push({ field: f, message: `this institution shows statements as pages back in time (${statements.maxMonths} months): page with cursor, or pick a month (month=YYYY-MM)` });
      }
    }
    if (errors.length > 0) throw AppError.validation(errors);
    return { ...base, from: earliest, to: latest };
  }

  const from = q.from === undefined ? { at: earliest, dateOnly: true } : parseBound(q.from, false);
  const to = q.to === undefined ? { at: latest, dateOnly: true } : parseBound(q.to, true);
  if ('error' in from) errors.push({ field: 'from', message: from.error });
  else if (from.at.getTime() < earliest.getTime()) errors.push({ field: 'from', message: `must not be before ${shanghaiDay(earliest)}: ${windowText}` });
  if ('error' in to) errors.push({ field: 'to', message: to.error });
  else if (to.at.getTime() > latest.getTime()) errors.push({ field: 'to', message: 'must not be after today (Asia/Shanghai)' });
  if (errors.length === 0 && !('error' in from) && !('error' in to) && from.at.getTime() > to.at.getTime()) {
    errors.push({ field: 'from', message: 'must not be after to' });
  }
  if (errors.length > 0 || 'error' in from || 'error' in to) throw AppError.validation(errors);
  return { ...base, from: from.at, to: to.at };
}

// ---- trends --------------------------------------------------------------------------------

/** `?months=` → a whole number from 1 to MAX_TREND_MONTHS (default 12). */
export function trendMonthCount(raw: number | undefined): number {
  const n = raw ?? DEFAULT_TREND_MONTHS;
  if (!Number.isInteger(n) || n < 1 || n > MAX_TREND_MONTHS) {
    throw AppError.validation([{ field: 'months', message: `must be a whole number from 1 to ${MAX_TREND_MONTHS}` }]);
  }
  return n;
}

export interface MonthBucket {
  /** `YYYY-MM` (Asia/Shanghai). */
  month: string;
  start: Date;
  /** Exclusive. */
  end: Date;
  incomeFen: bigint;
  expenseFen: bigint;
}

/** The last `count` calendar months up to and including the current one, oldest first, all at zero. */
export function monthBuckets(count: number, now: Date): MonthBucket[] {
  const current = shanghaiMonth(now);
  const out: MonthBucket[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const start = startOfMonth(current, -i);
    out.push({ month: shanghaiMonth(start), start, end: startOfMonth(current, -i + 1), incomeFen: 0n, expenseFen: 0n });
  }
  return out;
}

/**
 * Adds one posted entry to its month: money in is income, money out is expense (both positive).
 * Returns false when the entry falls outside every bucket.
 */
export function addToBuckets(buckets: MonthBucket[], entry: { bookedAt: Date; amountFen: bigint }): boolean {
  const t = entry.bookedAt.getTime();
  // Buckets are contiguous and ordered: binary search by start.
  let lo = 0;
  let hi = buckets.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const b = buckets[mid]!;
    if (t < b.start.getTime()) hi = mid - 1;
    else if (t >= b.end.getTime()) lo = mid + 1;
    else {
      if (entry.amountFen >= 0n) b.incomeFen += entry.amountFen;
      else b.expenseFen -= entry.amountFen;
      return true;
    }
  }
  return false;
}

// ---- totals per currency -------------------------------------------------------------------

export interface CurrencyTotal {
  currency: string;
  availableFen: bigint;
  ledgerFen: bigint;
  /** Accounts whose balance is in this total. */
  accounts: number;
  /** Accounts in this currency whose balance could not be shown (step-up, refusal) and is left out. */
  omitted: number;
}

/** Sums balances per currency (never across currencies), in first-seen order. */
export function totalsPerCurrency(rows: { currency: string; balance: { availableFen: bigint; ledgerFen: bigint } | null }[]): CurrencyTotal[] {
  const by = new Map<string, CurrencyTotal>();
  for (const r of rows) {
    let t = by.get(r.currency);
    if (!t) {
      t = { currency: r.currency, availableFen: 0n, ledgerFen: 0n, accounts: 0, omitted: 0 };
      by.set(r.currency, t);
    }
    if (r.balance) {
      t.availableFen += r.balance.availableFen;
      t.ledgerFen += r.balance.ledgerFen;
      t.accounts++;
    } else {
      t.omitted++;
    }
  }
  return [...by.values()];
}

/** The amount the step-up threshold is compared with: the larger of the two balances. */
export function stepUpAmount(b: { available: bigint; ledger: bigint }): bigint {
  return b.available > b.ledger ? b.available : b.ledger;
}
