// Contact's pure rules: business hours in Asia/Shanghai, the next opening, agent routing, the queue's expected wait, segments.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCHEDULE,
  HIGH_VALUE_DEFAULT_FEN,
  expectedWaitMinutes,
  isHighValue,
  isNewUser,
  isOpenAt,
  nextOpeningAt,
  routeBill,
  scheduleProblems,
  shanghaiDayStart,
  shanghaiParts,
  type AgentCandidate,
  type Schedule,
} from '../../../src/contact/policy.ts';

const weekdays9to18: Schedule = {
  weekly: [0, 1, 2, 3, 4, 5, 6].map((d) => (d < 5 ? [['09:00', '12:00'], ['13:30', '18:00']] : [])) as [string, string][][],
  closedDates: ['2026-04-06'],
};

const agent = (userId: string, o: Partial<AgentCandidate> = {}): AgentCandidate => ({
  userId,
  billKinds: [],
  capacity: 10,
  priority: 0,
  active: true,
  lastAssignedAt: null,
  load: 0,
  ...o,
});

describe('business hours', () => {
  it('reads the Shanghai calendar date, weekday and minute of an instant (UTC+8, no daylight saving)', () => {
    // 2026-03-18 is a Wednesday; 16:30 UTC is 00:30 on Thursday in Shanghai.
    expect(shanghaiParts(new Date('2026-03-18T16:30:00Z'))).toMatchObject({ date: '2026-03-19', weekday: 3, minute: 30 });
    expect(shanghaiParts(new Date('2026-03-22T15:59:00Z'))).toMatchObject({ date: '2026-03-22', weekday: 6, minute: 23 * 60 + 59 });
    expect(shanghaiDayStart(new Date('2026-03-18T16:30:00Z')).toISOString()).toBe('2026-03-18T16:00:00.000Z');
  });

  it('is open inside an interval, closed at its end, over lunch, at weekends and on closed dates', () => {
    expect(isOpenAt(weekdays9to18, new Date('2026-03-18T01:00:00Z'))).toBe(true); // Wed 09:00
    expect(isOpenAt(weekdays9to18, new Date('2026-03-18T00:59:59Z'))).toBe(false); // Wed 08:59
    expect(isOpenAt(weekdays9to18, new Date('2026-03-18T04:30:00Z'))).toBe(false); // Wed 12:30 lunch
    expect(isOpenAt(weekdays9to18, new Date('2026-03-18T10:00:00Z'))).toBe(false); // Wed 18:00 closes
    expect(isOpenAt(weekdays9to18, new Date('2026-03-21T03:00:00Z'))).toBe(false); // Saturday
    expect(isOpenAt(weekdays9to18, new Date('2026-04-06T03:00:00Z'))).toBe(false); // Monday, but closed (清明)
    expect(isOpenAt(DEFAULT_SCHEDULE, new Date('2026-03-21T12:59:00Z'))).toBe(true); // Sat 20:59
    expect(isOpenAt(DEFAULT_SCHEDULE, new Date('2026-03-21T13:00:00Z'))).toBe(false); // Sat 21:00
  });

  it('finds the next opening: after lunch, the next morning, past a weekend and a closed Monday', () => {
    expect(nextOpeningAt(weekdays9to18, new Date('2026-03-18T04:30:00Z'))?.toISOString()).toBe('2026-03-18T05:30:00.000Z');
    expect(nextOpeningAt(weekdays9to18, new Date('2026-03-18T11:00:00Z'))?.toISOString()).toBe('2026-03-19T01:00:00.000Z');
    // Friday 3 April 19:00 → Saturday, Sunday closed, Monday 6 April closed → Tuesday 09:00.
    expect(nextOpeningAt(weekdays9to18, new Date('2026-04-03T11:00:00Z'))?.toISOString()).toBe('2026-04-07T01:00:00.000Z');
    const open = new Date('2026-03-18T02:00:00Z');
    expect(nextOpeningAt(weekdays9to18, open)).toBe(open);
    expect(nextOpeningAt({ weekly: [[], [], [], [], [], [], []], closedDates: [] }, open)).toBeNull();
  });

  it('refuses malformed schedules, naming the field', () => {
    expect(scheduleProblems(DEFAULT_SCHEDULE)).toEqual([]);
    expect(scheduleProblems(weekdays9to18)).toEqual([]);
    expect(scheduleProblems({ weekly: [], closedDates: [] })[0]?.field).toBe('schedule.weekly');
    const bad = { ...weekdays9to18, weekly: weekdays9to18.weekly.map((d, i) => (i === 2 ? [['18:00', '09:00']] : d)) };
    expect(scheduleProblems(bad)[0]?.field).toBe('schedule.weekly.2');
    expect(scheduleProblems({ ...weekdays9to18, closedDates: ['2026-13-01'] })[0]?.field).toBe('schedule.closedDates');
    expect(scheduleProblems({ ...weekdays9to18, weekly: weekdays9to18.weekly.map(() => [['25:00', '26:00']]) })[0]?.field).toBe('schedule.weekly.0');
  });
});

describe('routing', () => {
  const now = new Date('2026-03-18T06:30:00Z'); // Wed 14:30 Shanghai

  it('picks the least loaded agent relative to capacity, then priority, then the longest idle, then by userid', () => {
    const agents = [agent('a', { load: 5, capacity: 10 }), agent('b', { load: 3, capacity: 4 }), agent('c', { load: 4, capacity: 10 })];
    expect(routeBill({ agents, billKind: 'transaction', schedule: DEFAULT_SCHEDULE, now })).toMatchObject({ kind: 'agent', agent: { userId: 'c' } });
    const tied = [agent('a', { priority: 0 }), agent('b', { priority: 2 }), agent('c', { priority: 2, lastAssignedAt: new Date('2026-03-18T06:00:00Z') })];
    expect(routeBill({ agents: tied, billKind: 'transaction', schedule: DEFAULT_SCHEDULE, now })).toMatchObject({ agent: { userId: 'b' } });
    const idle = [agent('z', { lastAssignedAt: new Date('2026-03-18T05:00:00Z') }), agent('y', { lastAssignedAt: new Date('2026-03-18T06:00:00Z') })];
    expect(routeBill({ agents: idle, billKind: 'transaction', schedule: DEFAULT_SCHEDULE, now })).toMatchObject({ agent: { userId: 'z' } });
    expect(routeBill({ agents: [agent('m'), agent('k')], billKind: 'transaction', schedule: DEFAULT_SCHEDULE, now })).toMatchObject({ agent: { userId: 'k' } });
  });

  it('routes a bill only to active agents who take its kind', () => {
    const agents = [agent('topup-only', { billKinds: ['topup'] }), agent('off', { active: false }), agent('any', { load: 9 })];
    expect(routeBill({ agents, billKind: 'transaction', schedule: DEFAULT_SCHEDULE, now })).toMatchObject({ agent: { userId: 'any' } });
    expect(routeBill({ agents, billKind: 'topup', schedule: DEFAULT_SCHEDULE, now })).toMatchObject({ agent: { userId: 'topup-only' } });
    expect(routeBill({ agents: [agent('off', { active: false })], billKind: 'topup', schedule: DEFAULT_SCHEDULE, now })).toEqual({ kind: 'none' });
  });

  it('queues when every agent is at capacity, and when the tenant is closed (with the next opening)', () => {
    expect(routeBill({ agents: [agent('a', { load: 10 }), agent('b', { load: 12 })], billKind: 'transaction', schedule: DEFAULT_SCHEDULE, now })).toEqual({ kind: 'busy', onDuty: 2 });
    const night = new Date('2026-03-18T14:00:00Z'); // 22:00
    expect(routeBill({ agents: [agent('a')], billKind: 'transaction', schedule: DEFAULT_SCHEDULE, now: night })).toEqual({
      kind: 'closed',
      opensAt: new Date('2026-03-19T01:00:00Z'),
      onDuty: 1,
    });
  });

  it('expects one average conversation per round of agents on duty, after the opening', () => {
    expect(expectedWaitMinutes({ position: 1, onDuty: 3, avgHandleMinutes: 8, opensAt: null, now })).toBe(8);
    expect(expectedWaitMinutes({ position: 4, onDuty: 3, avgHandleMinutes: 8, opensAt: null, now })).toBe(16);
    expect(expectedWaitMinutes({ position: 7, onDuty: 0, avgHandleMinutes: 5, opensAt: null, now })).toBe(35);
    expect(expectedWaitMinutes({ position: 1, onDuty: 2, avgHandleMinutes: 8, opensAt: new Date(now.getTime() + 90 * 60_000), now })).toBe(98);
  });
});

describe('segments', () => {
  it('calls a user new for 30 days after sign-up, and high value from the tenant line or ¥500,000', () => {
    const now = new Date('2026-03-18T00:00:00Z');
    expect(isNewUser(new Date('2026-02-16T00:00:01Z'), now)).toBe(true);
    expect(isNewUser(new Date('2026-02-16T00:00:00Z'), now)).toBe(false);
    expect(HIGH_VALUE_DEFAULT_FEN).toBe(50_000_000n);
    expect(isHighValue(49_999_999n, null)).toBe(false);
    expect(isHighValue(50_000_000n, null)).toBe(true);
    expect(isHighValue(10_000_000n, 10_000_000n)).toBe(true);
  });
});
