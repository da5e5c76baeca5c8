// Display forms: money from integer minor units (no floating point), times and dates in Asia/Shanghai, masked card numbers grouped.
const MINOR_UNITS: Record<string, number> = { JPY: 0, KRW: 0 };
const SYMBOLS: Record<string, string> = { CNY: '¥', USD: 'US$', HKD: 'HK$', EUR: '€', GBP: '£', JPY: 'JP¥' };
const ZONE = 'Asia/Shanghai';
/** Asia/Shanghai is UTC+8 all year (no daylight saving since 1991). */
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;

/** `123456, 'CNY'` → `¥1,234.56`; `-5` → `-¥0.05`. Integer arithmetic on the minor units throughout. */
export function formatMoney(minor: number, currency: string, _locale = 'zh-CN', opts: { sign?: boolean } = {}): string {
  const digits = MINOR_UNITS[currency] ?? 2;
  const n = BigInt(Math.trunc(minor));
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const scale = 10n ** BigInt(digits);
  const whole = (abs / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = digits ? `.${(abs % scale).toString().padStart(digits, '0')}` : '';
  const sym = SYMBOLS[currency] ?? `${currency} `;
  const sign = neg ? '-' : opts.sign && abs > 0n ? '+' : '';
  return `${sign}${sym}${whole}${frac}`;
}

function parts(iso: string, locale: string, o: Intl.DateTimeFormatOptions): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { timeZone: ZONE, ...o }).format(d);
}

export function formatDateTime(iso: string, locale: string): string {
  return parts(iso, locale, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
}

export function formatTime(iso: string, locale: string, withDate = false): string {
  return parts(iso, locale, withDate ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', hour12: false });
}

export function formatDate(iso: string, locale: string): string {
  return parts(iso, locale, { month: '2-digit', day: '2-digit' });
}

/** `2026-03` → `2026年3月` / `Mar 2026`. */
export function formatMonth(month: string, locale: string): string {
  const m = /^(\d{4})-(\d{2})/.exec(month);
  if (!m) return month;
  return new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'short', timeZone: 'UTC' }).format(new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)));
}

/** Today's date in Asia/Shanghai, `YYYY-MM-DD` (statements and quotas count by that day). */
export function shanghaiToday(now = Date.now()): string {
  return new Date(now + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD` moved by whole months, clamped to the month's last day. */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const first = new Date(Date.UTC(y, m - 1 + months, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  first.setUTCDate(Math.min(d, last));
  return first.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** First and last day of `YYYY-MM`. */
export function monthBounds(month: string): { from: string; to: string } {
  const from = `${month.slice(0, 7)}-01`;
  return { from, to: addDays(addMonths(from, 1), -1) };
}

/** `622848*********8903` → `622848 **** 8903`: the server's first 6 and last 4, without a wall of stars. */
export function groupMasked(masked: string): string {
  return masked.length > 10 ? `${masked.slice(0, 6)} **** ${masked.slice(-4)}` : masked;
}

/** Digits grouped by four as people read card numbers (`6228 4800 …`). */
export function groupDigits(s: string): string {
  return s.replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

/** What a person types as yuan (`100`, `12.5`, `1,000.05`) → fen; null if it is not an amount with at most two decimals. No floating point. */
export function parseYuan(text: string): number | null {
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(text.trim().replace(/^¥\s*/, '').replace(/(\d)[,，](?=\d{3})/g, '$1'));
  if (!m) return null;
  const fen = BigInt(m[1]!) * 100n + BigInt((m[2] ?? '').padEnd(2, '0'));
  return fen <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(fen) : null;
}
