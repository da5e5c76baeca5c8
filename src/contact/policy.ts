// Pure rules of bill → customer service: lifetimes and limits, business hours (Asia/Shanghai), agent routing, the queue's expected wait, funnel segments.
import type { FieldError } from '../app/errors.ts';

export const BILL_KINDS = ['transaction', 'topup'] as const;
export type BillKind = (typeof BILL_KINDS)[number];
export const isBillKind = (s: unknown): s is BillKind => typeof s === 'string' && (BILL_KINDS as readonly string[]).includes(s);

/** An unused QR code and the temporary data behind its state are gone after 30 minutes (seed 003: "temporary data cleared after 30 min"). */
export const QR_TTL_MS = 30 * 60_000;
/** The agent can trace the conversation back to the bill for 72 hours after the add (seed 003: "a 72-hour window"). */
export const CONTEXT_TTL_MS = 72 * 3_600_000;
/** An emergency service id can be resolved for as long as a context would have lived. */
export const EMERGENCY_TTL_MS = CONTEXT_TTL_MS;
/** A human-queue entry nobody picked up is dropped after this; the user taps again. */
export const QUEUE_TTL_MS = 2 * 3_600_000;
/** The one-time code the user reads to an agent for an emergency id. */
export const EMERGENCY_CODE_TTL_MS = 10 * 60_000;
/** Wrong verification answers (any method) before an emergency id locks. */
export const EMERGENCY_VERIFY_MAX_ATTEMPTS = 5;
/** Contact requests one user may start per Shanghai day (every tap that is not a repeat of a live one). */
export const CONTACTS_PER_USER_PER_DAY = 20;
/** Live requests (QR shown, queued) one user may hold at once, across bills. */
export const LIVE_CONTACTS_PER_USER = 3;
/**
 * An agent's load: live QR codes of theirs plus customers added in this window. A conversation
 * from a bill is usually short; one added two hours ago no longer keeps the agent from new ones.
 */
export const AGENT_LOAD_WINDOW_MS = 2 * 3_600_000;
export const DEFAULT_AGENT_CAPACITY = 20;
export const DEFAULT_AVG_HANDLE_MINUTES = 8;
/** Agents per tenant the routing considers (and the settings API accepts). */
export const AGENTS_PER_TENANT_MAX = 200;
/** Open contexts one look-up answers (one customer may have asked about several bills). */
export const CONTEXTS_PER_LOOKUP_MAX = 10;
/** The privacy notice the bill-sharing consent is recorded under unless the tenant names another. */
export const DEFAULT_NOTICE_VERSION = '2026-01';
/** "New users": signed up less than 30 days before they first looked at the bill. */
export const NEW_USER_MAX_AGE_MS = 30 * 86_400_000;
/**
 * "High-value users": available CNY balances over their bound cards at or above the tenant's
 * step-up threshold (the bank's own line for "a large balance": seed rule ¥500,000 needs the
 * trade password), or ¥500,000 when the tenant sets none. Read at T+1 (yesterday's close): a
 * segment label, not a live figure.
 */
export const HIGH_VALUE_DEFAULT_FEN = 50_000_000n;
/** Days ahead the next opening is searched for. */
const OPENING_SEARCH_DAYS = 14;

// ---------- business hours (Asia/Shanghai, UTC+8 all year: China has no daylight saving time) ----------

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** Opening hours: `weekly[0]` is Monday … `weekly[6]` Sunday, each a list of [open, close) "HH:MM" pairs; "24:00" closes at midnight. */
export interface Schedule {
  weekly: [string, string][][];
  /** Whole days closed (public holidays), "YYYY-MM-DD" in Asia/Shanghai. */
  closedDates: string[];
}

/** Every day 09:00–21:00: the hours most banks' WeChat customer service keeps. */
export const DEFAULT_SCHEDULE: Schedule = Object.freeze({
  weekly: Array.from({ length: 7 }, () => [['09:00', '21:00'] as [string, string]]),
  closedDates: [],
}) as Schedule;

const HHMM = /^([01][0-9]|2[0-3]):([0-5][0-9])$|^24:00$/;
const DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const CLOSED_DATES_MAX = 400;
const INTERVALS_PER_DAY_MAX = 6;

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Problems with a schedule from an operator (empty when acceptable). */
export function scheduleProblems(s: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const v = s as Partial<Schedule> | null;
  if (!v || !Array.isArray(v.weekly) || v.weekly.length !== 7) return [{ field: 'schedule.weekly', message: 'must list 7 days, Monday first' }];
  v.weekly.forEach((day, i) => {
    if (!Array.isArray(day) || day.length > INTERVALS_PER_DAY_MAX) {
      errors.push({ field: `schedule.weekly.${i}`, message: `must be at most ${INTERVALS_PER_DAY_MAX} [open, close] pairs` });
      return;
    }
    for (const pair of day) {
      if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((t) => typeof t === 'string' && HHMM.test(t)) || minutesOf(pair[0]) >= minutesOf(pair[1])) {
        errors.push({ field: `schedule.weekly.${i}`, message: 'each pair is ["HH:MM", "HH:MM"] with open before close' });
        return;
      }
    }
  });
  if (!Array.isArray(v.closedDates) || v.closedDates.length > CLOSED_DATES_MAX || !v.closedDates.every((d) => typeof d === 'string' && DATE.test(d))) {
    errors.push({ field: 'schedule.closedDates', message: `must be at most ${CLOSED_DATES_MAX} dates YYYY-MM-DD` });
  }
  return errors;
}

/** The Shanghai calendar date ("YYYY-MM-DD"), weekday (0 = Monday) and minute of day of an instant. */
export function shanghaiParts(at: Date): { date: string; weekday: number; minute: number; midnightMs: number } {
  const local = at.getTime() + SHANGHAI_OFFSET_MS;
  const dayStart = Math.floor(local / DAY_MS) * DAY_MS;
  const d = new Date(dayStart);
  return {
    date: d.toISOString().slice(0, 10),
    weekday: (d.getUTCDay() + 6) % 7,
    minute: Math.floor((local - dayStart) / 60_000),
    midnightMs: dayStart - SHANGHAI_OFFSET_MS,
  };
}

export function isOpenAt(s: Schedule, at: Date): boolean {
  const p = shanghaiParts(at);
  if (s.closedDates.includes(p.date)) return false;
  return (s.weekly[p.weekday] ?? []).some(([o, c]) => p.minute >= minutesOf(o) && p.minute < minutesOf(c));
}

/** `at` itself when open, else the next opening within two weeks; null when the schedule never opens. */
export function nextOpeningAt(s: Schedule, at: Date): Date | null {
  if (isOpenAt(s, at)) return at;
  const today = shanghaiParts(at);
  for (let i = 0; i <= OPENING_SEARCH_DAYS; i++) {
    const midnight = today.midnightMs + i * DAY_MS;
    const p = shanghaiParts(new Date(midnight));
    if (s.closedDates.includes(p.date)) continue;
    const opens = (s.weekly[p.weekday] ?? []).map(([o]) => midnight + minutesOf(o) * 60_000).filter((t) => t > at.getTime()).sort((a, b) => a - b);
    if (opens.length > 0) return new Date(opens[0]!);
  }
  return null;
}

// ---------- routing ----------

export interface AgentCandidate {
  userId: string;
  /** Empty: every kind. */
  billKinds: string[];
  capacity: number;
  priority: number;
  active: boolean;
  lastAssignedAt: Date | null;
  /** Live QR codes plus customers added within AGENT_LOAD_WINDOW_MS. */
  load: number;
}

export type RouteDecision =
  | { kind: 'agent'; agent: AgentCandidate }
  /** Outside business hours: the queue, with the next opening. */
  | { kind: 'closed'; opensAt: Date | null; onDuty: number }
  /** Every agent who takes this kind of bill is at capacity. */
  | { kind: 'busy'; onDuty: number }
  /** Nobody takes this kind of bill. */
  | { kind: 'none' };

export const takesKind = (a: Pick<AgentCandidate, 'billKinds'>, kind: string) => a.billKinds.length === 0 || a.billKinds.includes(kind);

/**
 * Picks the agent for a bill: the tenant's schedule first (closed → the queue), then the active
 * agents who take this kind of bill, then those under capacity; among them the least loaded
 * relative to capacity, then the higher priority, then the one assigned longest ago (round robin
 * among equals), then by userid so the choice is deterministic.
 */
export function routeBill(input: { agents: AgentCandidate[]; billKind: string; schedule: Schedule; now: Date }): RouteDecision {
  const eligible = input.agents.filter((a) => a.active && takesKind(a, input.billKind));
  if (eligible.length === 0) return { kind: 'none' };
  if (!isOpenAt(input.schedule, input.now)) return { kind: 'closed', opensAt: nextOpeningAt(input.schedule, input.now), onDuty: eligible.length };
  const free = eligible.filter((a) => a.load < a.capacity);
  if (free.length === 0) return { kind: 'busy', onDuty: eligible.length };
  const sorted = [...free].sort(
    (a, b) =>
      a.load / a.capacity - b.load / b.capacity ||
      b.priority - a.priority ||
      (a.lastAssignedAt?.getTime() ?? -Infinity) - (b.lastAssignedAt?.getTime() ?? -Infinity) ||
      (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
  );
  return { kind: 'agent', agent: sorted[0]! };
}

/**
 * Minutes until a human picks up a queue entry: the wait for the opening, then one average
 * conversation per round of the agents on duty ahead of it (position 1 is next).
 */
export function expectedWaitMinutes(input: { position: number; onDuty: number; avgHandleMinutes: number; opensAt: Date | null; now: Date }): number {
  const untilOpen = input.opensAt ? Math.max(0, Math.ceil((input.opensAt.getTime() - input.now.getTime()) / 60_000)) : 0;
  const rounds = Math.ceil(Math.max(1, input.position) / Math.max(1, input.onDuty));
  return untilOpen + rounds * input.avgHandleMinutes;
}

// ---------- funnel segments ----------

export const FUNNEL_STEPS = ['viewed', 'tapped', 'qr_shown', 'added', 'first_message'] as const;
export type FunnelStep = (typeof FUNNEL_STEPS)[number];
export const SEGMENTS = ['all', 'new_user', 'elderly', 'high_value'] as const;
export type Segment = (typeof SEGMENTS)[number];

export function isNewUser(createdAt: Date, now: Date): boolean {
  return now.getTime() - createdAt.getTime() < NEW_USER_MAX_AGE_MS;
}

export function isHighValue(availableCnyFen: bigint, thresholdFen: bigint | null): boolean {
  return availableCnyFen >= (thresholdFen ?? HIGH_VALUE_DEFAULT_FEN);
}

/** The start of the Shanghai day of `at` (the daily contact limit's window). */
export function shanghaiDayStart(at: Date): Date {
  return new Date(shanghaiParts(at).midnightMs);
}
