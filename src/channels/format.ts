// How channel answers show money, times and cards: yuan with separators, Shanghai wall-clock times, masked card numbers only.
import { formatFen } from '../shared/money.ts';
import { formatMinor } from '../accounts/index.ts';

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** `2026-03-18T06:30:00Z` → `03-18 14:30` (Asia/Shanghai, which has no daylight saving). */
export function shanghaiShort(at: Date): string {
  const s = new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString();
  return `${s.slice(5, 10)} ${s.slice(11, 16)}`;
}

/** `2026-03-18 14:30` (Asia/Shanghai). */
export function shanghaiLong(at: Date): string {
  const s = new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 16)}`;
}

/** CNY as `¥1,234.56`; another currency as `1234.56 USD` in its own minor units. */
export function money(amountMinor: bigint, currency: string): string {
  return currency === 'CNY' ? formatFen(amountMinor) : `${formatMinor(amountMinor, currency)} ${currency}`;
}

/** A signed amount: `+¥100.00` / `-¥25.50`. */
export function signedMoney(amountMinor: bigint, currency: string): string {
  return amountMinor < 0n ? money(amountMinor, currency) : `+${money(amountMinor, currency)}`;
}

const KIND_NAMES: Record<string, string> = { debit: '借记卡', credit: '信用卡', citizen: '市民卡' };

export function cardKindName(kind: string): string {
  return KIND_NAMES[kind] ?? '卡';
}

/** `尾号1234` from a masked number (`622848*********1234`): never more than the last 4 digits. */
export function tailOf(maskedNumber: string): string {
  return `尾号${maskedNumber.slice(-4)}`;
}
