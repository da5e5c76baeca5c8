// Exchange rates to CNY: the book of rates a request converts with, operators' rate updates, and the demo rates.
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import { addMonths } from '../tenants/index.ts';
import { currencyExponent, formatRate, MAX_RATE_SCALED, toCnyFen } from './conversion.ts';
import { shanghaiDay } from './policy.ts';
import { insertRatesIfAbsent, selectRates, upsertRate, type RateRow } from './store.ts';

/** A CNY equivalent as answers show it: the amount in fen and the rate it was converted at. */
export interface CnyEquivalent {
  amountFen: bigint;
  /** CNY per unit of the account currency, as a decimal string (`"7.1234"`). */
  rate: string;
  /** The business day the rate took effect. */
  rateDate: string;
}

/**
 * The rates a request converts with, loaded once: for each currency, the rates in force over a
 * span of business days. `rateOn` picks the one in force on a day (the latest effective on or
 * before it); a currency or day without a rate converts to nothing (the answer says so with a
 * null, never a guess).
 */
export class RateBook {
  private readonly byCurrency = new Map<string, RateRow[]>();

  constructor(rows: RateRow[]) {
    for (const r of rows) {
      const list = this.byCurrency.get(r.currency) ?? [];
      list.push(r);
      this.byCurrency.set(r.currency, list);
    }
    for (const list of this.byCurrency.values()) list.sort((a, b) => (a.effectiveOn < b.effectiveOn ? -1 : a.effectiveOn > b.effectiveOn ? 1 : 0));
  }

  rateOn(currency: string, day: string): RateRow | undefined {
    const list = this.byCurrency.get(currency);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    let found: RateRow | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.effectiveOn <= day) {
        found = list[mid];
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** The CNY equivalent of an amount at the rate in force on the instant's business day; undefined without one. */
  cny(amountMinor: bigint, currency: string, at: Date): CnyEquivalent | undefined {
    if (currency === 'CNY') return { amountFen: amountMinor, rate: '1', rateDate: shanghaiDay(at) };
    if (currencyExponent(currency) === undefined) return undefined;
    const r = this.rateOn(currency, shanghaiDay(at));
    return r ? { amountFen: toCnyFen(amountMinor, currency, r.rateScaled), rate: formatRate(r.rateScaled), rateDate: r.effectiveOn } : undefined;
  }
}

/** The rates of `currencies` in force between two instants (CNY needs none). */
export async function loadRateBook(db: Db | Tx, currencies: Iterable<string>, from: Date, to: Date): Promise<RateBook> {
  const foreign = [...new Set(currencies)].filter((c) => c !== 'CNY' && currencyExponent(c) !== undefined).sort();
  return new RateBook(await selectRates(db, foreign, shanghaiDay(from), shanghaiDay(to)));
}

/**
 * Sets the rate of a currency from a business day on (an operator's or a feed's figure). The
 * currency must be one wecard knows the minor unit of; the rate is CNY per unit × 10^8.
 */
export async function setExchangeRate(tx: Tx, r: { currency: string; effectiveOn: string; rateScaled: bigint; source: string; now: Date }): Promise<void> {
  const errors = [];
  if (r.currency === 'CNY' || currencyExponent(r.currency) === undefined) errors.push({ field: 'currency', message: 'must be a foreign currency wecard keeps accounts in' });
  if (!/^\d{4}-\d{2}-\d{2}$/.test(r.effectiveOn) || Number.isNaN(Date.parse(`${r.effectiveOn}T00:00:00Z`))) errors.push({ field: 'effectiveOn', message: 'must be YYYY-MM-DD' });
  if (r.rateScaled <= 0n || r.rateScaled > MAX_RATE_SCALED) errors.push({ field: 'rate', message: 'must be above 0 and at most 10000 CNY per unit' });
  if (!/^[a-z_]{1,20}$/.test(r.source)) errors.push({ field: 'source', message: 'must be 1–20 lower-case letters or _' });
  if (errors.length > 0) throw AppError.validation(errors);
  await upsertRate(tx, r);
}

/**
 * Fictitious demo rates (CNY per unit × 10^8), near the 2025–2026 central parity so the sandbox
 * shows plausible figures; a month-by-month drift makes old statements convert at their own rate.
 */
const DEMO_RATES: Readonly<Record<string, bigint>> = {
  USD: 712_000_000n,
  EUR: 778_000_000n,
  HKD: 91_200_000n,
  JPY: 4_750_000n,
  GBP: 905_000_000n,
};
/** Months of demo history: the demo ledger books a year back. */
const DEMO_RATE_MONTHS = 14;

/** Seeds the demo rates (first of each month, 14 months back) where none are set; an operator's rows stay. */
export async function seedDemoRates(db: Db | Tx, now: Date): Promise<void> {
  const rows: (RateRow & { source: string; now: Date })[] = [];
  for (let i = DEMO_RATE_MONTHS; i >= 0; i--) {
    const effectiveOn = `${shanghaiDay(addMonths(now, -i)).slice(0, 7)}-01`;
    for (const [currency, base] of Object.entries(DEMO_RATES)) {
      // ±0.6 % around the base, the same figures on every run (no randomness: demo sheets must agree).
      const driftBp = BigInt(((i * 37 + currency.charCodeAt(0)) % 13) - 6);
      rows.push({ currency, effectiveOn, rateScaled: base + (base * driftBp) / 1_000n, source: 'demo', now });
    }
  }
  await insertRatesIfAbsent(db, rows);
}
