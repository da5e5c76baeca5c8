// Plans a year of realistic demo transactions per card (pure, seeded), simulated so no account breaks its limits.
import { randomInt, type RandomSource } from '../../shared/card-number.ts';
import type { DemoCardholder, DemoCardSpec, SpendingProfile } from './spec.ts';
import { randomFor } from './spec.ts';

export type InternalAccount = 'clearing' | 'settlement' | 'fee' | 'interest';
/** A card by `holderKey#cardIndex`, or one of the tenant's internal accounts in a currency. */
export type AccountRef = { card: string } | { internal: InternalAccount; currency: string };

export interface PlannedTransfer {
  debit: AccountRef;
  credit: AccountRef;
  amountFen: bigint;
  currency: string;
  kind: string;
  description: string;
  counterparty: string;
  bookedAt: Date;
}

export interface Plan {
  transfers: PlannedTransfer[];
  /** Per card: the latest customer transaction (fees and interest do not count: DOMAIN.md dormancy). */
  lastActivity: Map<string, Date>;
  balances: Map<string, bigint>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const SHANGHAI_OFFSET_MS = 8 * HOUR_MS;
const HISTORY_MONTHS = 12;
/** Nothing is booked closer to "now" than this, so the clock never sees a future posting. */
const NOW_MARGIN_MS = 10 * 60_000;
/** Credit line of demo credit cards. */
const CREDIT_LIMIT_FEN = 5_000_000n;
/** PBOC 〔2012〕第12号: registered prepaid cards hold at most ¥5,000, anonymous ones ¥1,000. */
const CITIZEN_CAP_REAL_NAME_FEN = 500_000n;
const CITIZEN_CAP_ANONYMOUS_FEN = 100_000n;
/** Dormant demo accounts: their last customer transaction is about this many months back. */
const DORMANT_LAST_ACTIVE_MONTHS = 8;
/** Quarterly interest on current accounts: 0.2 % a year (a typical 活期 rate), credited on the 21st of the quarter's last month. */
const INTEREST_BP_PER_QUARTER = 5n;

const fen = (yuan: number) => BigInt(Math.round(yuan * 100));

function amountBetween(random: RandomSource, minYuan: number, maxYuan: number): bigint {
  const min = fen(minYuan);
  const span = fen(maxYuan) - min;
  return min + BigInt(randomInt(random, Number(span) + 1));
}

const pick = <T>(random: RandomSource, list: readonly T[]): T => list[randomInt(random, list.length)]!;

interface Merchant {
  name: string;
  description: string;
  min: number;
  max: number;
}
const SHOPS: readonly Merchant[] = [
  { name: '京东商城', description: '网购', min: 30, max: 1500 },
  { name: '淘宝（天猫）', description: '网购', min: 20, max: 800 },
  { name: '美团外卖', description: '外卖', min: 18, max: 85 },
  { name: '盒马鲜生', description: '超市购物', min: 40, max: 320 },
  { name: '永辉超市', description: '超市购物', min: 25, max: 260 },
  { name: '滴滴出行', description: '打车', min: 12, max: 90 },
  { name: '星巴克咖啡', description: '餐饮', min: 30, max: 75 },
  { name: '中国石化加油站', description: '加油', min: 200, max: 450 },
  { name: '万达影城', description: '电影票', min: 60, max: 160 },
  { name: '海底捞火锅', description: '餐饮', min: 180, max: 680 },
  { name: '屈臣氏', description: '日用品', min: 35, max: 280 },
];
const ELDER_SHOPS: readonly Merchant[] = [
  { name: '永辉超市', description: '超市购物', min: 20, max: 180 },
  { name: '老百姓大药房', description: '药品', min: 15, max: 260 },
  { name: '菜市场（扫码）', description: '买菜', min: 10, max: 90 },
  { name: '联华超市', description: '超市购物', min: 15, max: 150 },
];
const FOREIGN_SHOPS: readonly Merchant[] = [
  { name: 'AMAZON.COM', description: '境外消费', min: 20, max: 200 },
  { name: 'APPLE.COM/BILL', description: '境外消费', min: 0.99, max: 9.99 },
  { name: 'BOOKING.COM', description: '境外消费', min: 150, max: 600 },
];
const TRANSIT: readonly Merchant[] = [
  { name: '杭州地铁', description: '地铁', min: 2, max: 7 },
  { name: '杭州公交', description: '公交', min: 2, max: 2 },
  { name: '杭州公交', description: '公交', min: 1, max: 3 },
];
const EMPLOYERS = ['杭州云栖科技有限公司', '上海浦江贸易有限公司', '深圳南山电子有限公司', '北京华清设计院', '成都锦城物流有限公司'];
const RELATIVES = ['张*芳', '李*', '王*华', '陈*', '刘*梅', '赵*军'];

/** A Shanghai wall-clock time as an instant (Asia/Shanghai is UTC+8 without daylight saving). */
function shanghai(y: number, m: number, d: number, hh: number, mm: number, ss = 0): Date {
  return new Date(Date.UTC(y, m, d, hh, mm, ss) - SHANGHAI_OFFSET_MS);
}

interface Event {
  at: Date;
  order: number;
  debit: AccountRef;
  credit: AccountRef;
  currency: string;
  /** Fixed, or computed from the simulated balances when the event comes up. */
  amount: bigint | ((bal: (ref: AccountRef) => bigint) => bigint);
  kind: string;
  description: string;
  counterparty: string;
}

const refKey = (r: AccountRef) => ('card' in r ? r.card : `${r.internal}:${r.currency}`);

/**
 * Plans a tenant's year: opening balances a year back, then month by month the events of each
 * card's profile, booked at plausible Shanghai times. The events are replayed in time order on
 * simulated balances: a debit that would overdraw a deposit account, pass a credit line or a
 * top-up that would pass a stored-value cap is dropped, so the ledger accepts every transfer.
 */
export function planTenantYear(holders: readonly DemoCardholder[], now: Date): Plan {
  const events: Event[] = [];
  let order = 0;
  const start = new Date(now.getTime() - 365 * DAY_MS);
  const localNow = new Date(now.getTime() + SHANGHAI_OFFSET_MS);
  const add = (e: Omit<Event, 'order'>) => {
    if (e.at.getTime() <= start.getTime() || e.at.getTime() > now.getTime() - NOW_MARGIN_MS) return;
    events.push({ ...e, order: order++ });
  };
  const clearing = (currency: string): AccountRef => ({ internal: 'clearing', currency });

  for (const h of holders) {
    const random = randomFor(`${h.tenantId}/${h.key}/transactions`);
    const employer = pick(random, EMPLOYERS);
    const phoneBillFen = fen(pick(random, [58, 88, 128]));
    const debitIndex = h.cards.findIndex((c) => c.kind === 'debit' && c.currency === 'CNY');
    h.cards.forEach((card, i) => {
      const me: AccountRef = { card: `${h.key}#${i}` };
      const ccy = card.currency;
      // Opening balance a year back (a balance brought forward, as a migrated statement shows it).
      const opening = openingFen(card, random);
      if (opening > 0n) {
        events.push({
          at: new Date(start.getTime() + HOUR_MS), order: order++, debit: clearing(ccy), credit: me, currency: ccy,
          amount: opening, kind: 'opening', description: '期初余额', counterparty: '余额结转',
        });
      }
      for (let back = HISTORY_MONTHS; back >= 0; back--) {
        const y = localNow.getUTCFullYear();
        const m = localNow.getUTCMonth() - back;
        const at = (d: number, h0 = 8, h1 = 22) => shanghai(y, m, d, h0 + randomInt(random, h1 - h0 + 1), randomInt(random, 60), randomInt(random, 60));
        const month = ((m % 12) + 12) % 12; // 0 = January
        const ctx: MonthCtx = { card, me, ccy, random, at, month, back, add, clearing, employer, phoneBillFen, holder: h };
        monthOf(card.profile, ctx);
        if (card.kind === 'credit' && debitIndex >= 0) {
          // Automatic repayment from the holder's debit card of what the credit card owes.
          add({
            at: at(5, 6, 7), debit: { card: `${h.key}#${debitIndex}` }, credit: me, currency: ccy,
            amount: (bal) => (bal(me) < 0n ? -bal(me) : 0n), kind: 'card_repayment', description: '信用卡自动还款', counterparty: '本行信用卡中心',
          });
        }
        if (card.kind !== 'credit' && card.kind !== 'citizen' && [2, 5, 8, 11].includes(month)) {
          add({
            at: at(21, 2, 2), debit: { internal: 'interest', currency: ccy }, credit: me, currency: ccy,
            amount: (bal) => (bal(me) * INTEREST_BP_PER_QUARTER) / 10_000n, kind: 'interest', description: '活期结息', counterparty: '利息',
          });
        }
      }
    });
  }
  return simulate(events, holders);
}

interface MonthCtx {
  card: DemoCardSpec;
  me: AccountRef;
  ccy: string;
  random: RandomSource;
  at: (day: number, fromHour?: number, toHour?: number) => Date;
  month: number;
  back: number;
  add: (e: Omit<Event, 'order'>) => void;
  clearing: (currency: string) => AccountRef;
  employer: string;
  phoneBillFen: bigint;
  holder: DemoCardholder;
}

function openingFen(card: DemoCardSpec, random: RandomSource): bigint {
  switch (card.profile) {
    case 'wealthy':
      return amountBetween(random, 560_000, 600_000);
    case 'salaried':
      return amountBetween(random, 8_000, 30_000);
    case 'retired':
      return amountBetween(random, 20_000, 60_000);
    case 'dormant':
      return amountBetween(random, 1_500, 6_000);
    case 'foreign_currency':
      return amountBetween(random, 3_000, 8_000);
    case 'citizen':
      return amountBetween(random, 50, 200);
    case 'credit':
      return 0n;
  }
}

function spend(c: MonthCtx, shops: readonly Merchant[], count: number, scale = 1): void {
  for (let i = 0; i < count; i++) {
    const s = pick(c.random, shops);
    c.add({
      at: c.at(1 + randomInt(c.random, 28)), debit: c.me, credit: c.clearing(c.ccy), currency: c.ccy,
      amount: amountBetween(c.random, s.min * scale, s.max * scale), kind: 'purchase', description: s.description, counterparty: s.name,
    });
  }
}

function utilities(c: MonthCtx): void {
  const summerOrWinter = [0, 1, 6, 7, 11].includes(c.month);
  const out = (day: number, amount: bigint, description: string, counterparty: string) =>
    c.add({ at: c.at(day, 7, 21), debit: c.me, credit: c.clearing(c.ccy), currency: c.ccy, amount, kind: 'utility', description, counterparty });
  out(6, amountBetween(c.random, summerOrWinter ? 220 : 70, summerOrWinter ? 460 : 180), '电费', '国网电力公司');
  out(8, amountBetween(c.random, [0, 1, 11].includes(c.month) ? 90 : 25, [0, 1, 11].includes(c.month) ? 180 : 70), '燃气费', '城市燃气公司');
  if (c.month % 2 === 0) out(12, amountBetween(c.random, 35, 95), '水费', '自来水公司');
  out(3, c.phoneBillFen, '话费充值', '中国移动');
}

function monthOf(profile: SpendingProfile, c: MonthCtx): void {
  const income = c.card.monthlyIncomeFen ?? 0n;
  // ± pct % to the fen: take-home pay moves with overtime, deductions and tax.
  const vary = (base: bigint, pct: number) => {
    const spread = (base * BigInt(pct)) / 100n;
    return base - spread + BigInt(randomInt(c.random, Number(2n * spread) + 1));
  };
  switch (profile) {
    case 'salaried':
    case 'wealthy': {
      c.add({ at: c.at(10, 9, 11), debit: c.clearing(c.ccy), credit: c.me, currency: c.ccy, amount: vary(income, 3), kind: 'salary', description: '代发工资', counterparty: c.employer });
      if (c.month === 1) {
        c.add({ at: c.at(8, 9, 11), debit: c.clearing(c.ccy), credit: c.me, currency: c.ccy, amount: income * 2n, kind: 'salary', description: '年终奖', counterparty: c.employer });
      }
      c.add({ at: c.at(15, 9, 18), debit: c.me, credit: c.clearing(c.ccy), currency: c.ccy, amount: (income * 30n) / 100n, kind: 'loan_repayment', description: '个人住房贷款还款', counterparty: '本行个人贷款中心' });
      utilities(c);
      spend(c, SHOPS, 5 + randomInt(c.random, 4), profile === 'wealthy' ? 3 : 1);
      for (let i = randomInt(c.random, 3); i > 0; i--) {
        c.add({
          at: c.at(1 + randomInt(c.random, 28)), debit: c.me, credit: c.clearing(c.ccy), currency: c.ccy,
          amount: amountBetween(c.random, 200, 3_000), kind: 'transfer', description: pick(c.random, ['转账', '生活费', '红包']), counterparty: pick(c.random, RELATIVES),
        });
      }
      if (randomInt(c.random, 4) === 0) {
        c.add({
          at: c.at(1 + randomInt(c.random, 28)), debit: c.clearing(c.ccy), credit: c.me, currency: c.ccy,
          amount: amountBetween(c.random, 100, 2_000), kind: 'transfer', description: '转账', counterparty: pick(c.random, RELATIVES),
        });
      }
      c.add({ at: c.at(1, 3, 3), debit: c.me, credit: { internal: 'fee', currency: c.ccy }, currency: c.ccy, amount: 200n, kind: 'fee', description: '短信通知服务费', counterparty: '本行' });
      return;
    }
    case 'retired':
      c.add({ at: c.at(15, 8, 10), debit: c.clearing(c.ccy), credit: c.me, currency: c.ccy, amount: income, kind: 'pension', description: '养老金', counterparty: '社会保险基金管理中心' });
      utilities(c);
      spend(c, ELDER_SHOPS, 4 + randomInt(c.random, 4));
      if (randomInt(c.random, 3) === 0) {
        c.add({ at: c.at(1 + randomInt(c.random, 28)), debit: c.me, credit: c.clearing(c.ccy), currency: c.ccy, amount: amountBetween(c.random, 500, 2_000), kind: 'transfer', description: '红包', counterparty: pick(c.random, RELATIVES) });
      }
      return;
    case 'dormant':
      // Active in the first months of the year, silent for the last DORMANT_LAST_ACTIVE_MONTHS.
      if (c.back > DORMANT_LAST_ACTIVE_MONTHS) {
        spend(c, ELDER_SHOPS, 1 + randomInt(c.random, 2));
        c.add({ at: c.at(20, 9, 16), debit: c.me, credit: c.clearing(c.ccy), currency: c.ccy, amount: amountBetween(c.random, 100, 400), kind: 'withdrawal', description: 'ATM取款', counterparty: '本行ATM' });
      }
      return;
    case 'credit':
      spend(c, SHOPS, 6 + randomInt(c.random, 6));
      return;
    case 'foreign_currency':
      spend(c, FOREIGN_SHOPS, 1 + randomInt(c.random, 2));
      if (c.month % 3 === 0) {
        c.add({ at: c.at(18, 10, 15), debit: c.clearing(c.ccy), credit: c.me, currency: c.ccy, amount: amountBetween(c.random, 800, 1_500), kind: 'remittance', description: '境外汇款入账', counterparty: 'HK PACIFIC TRADING LTD' });
      }
      return;
    case 'citizen': {
      const me = c.me;
      const cap = c.card.citizen?.realName ? CITIZEN_CAP_REAL_NAME_FEN : CITIZEN_CAP_ANONYMOUS_FEN;
      // Top up twice a month when the balance runs low, never past the stored-value cap.
      for (const day of [1, 16]) {
        const topup = fen(pick(c.random, [100, 200, 300]));
        c.add({
          at: c.at(day, 7, 21), debit: { internal: 'settlement', currency: c.ccy }, credit: me, currency: c.ccy,
          amount: (bal) => (bal(me) < 10_000n && bal(me) + topup <= cap ? topup : 0n), kind: 'topup', description: '微信充值', counterparty: '微信支付',
        });
      }
      for (let i = 15 + randomInt(c.random, 15); i > 0; i--) {
        const t = pick(c.random, TRANSIT);
        c.add({ at: c.at(1 + randomInt(c.random, 28), 7, 21), debit: me, credit: c.clearing(c.ccy), currency: c.ccy, amount: amountBetween(c.random, t.min, t.max), kind: 'transit', description: t.description, counterparty: t.name });
      }
      spend(c, [{ name: '全家便利店', description: '便利店', min: 5, max: 30 }, { name: '罗森便利店', description: '便利店', min: 5, max: 30 }], 2 + randomInt(c.random, 3));
      return;
    }
  }
}

function simulate(events: Event[], holders: readonly DemoCardholder[]): Plan {
  events.sort((a, b) => a.at.getTime() - b.at.getTime() || a.order - b.order);
  const cardSpec = new Map<string, DemoCardSpec>();
  for (const h of holders) h.cards.forEach((c, i) => cardSpec.set(`${h.key}#${i}`, c));
  const balances = new Map<string, bigint>();
  const bal = (r: AccountRef) => balances.get(refKey(r)) ?? 0n;
  const lastActivity = new Map<string, Date>();
  const transfers: PlannedTransfer[] = [];
  for (const e of events) {
    const amount = typeof e.amount === 'function' ? e.amount(bal) : e.amount;
    if (amount <= 0n) continue;
    if ('card' in e.debit) {
      const spec = cardSpec.get(e.debit.card)!;
      const after = bal(e.debit) - amount;
      if (spec.kind === 'credit' ? after < -CREDIT_LIMIT_FEN : after < 0n) continue;
    }
    balances.set(refKey(e.debit), bal(e.debit) - amount);
    balances.set(refKey(e.credit), bal(e.credit) + amount);
    transfers.push({ debit: e.debit, credit: e.credit, amountFen: amount, currency: e.currency, kind: e.kind, description: e.description, counterparty: e.counterparty, bookedAt: e.at });
    if (e.kind !== 'fee' && e.kind !== 'interest') {
      for (const side of [e.debit, e.credit]) {
        if ('card' in side) {
          const prev = lastActivity.get(side.card);
          if (!prev || prev < e.at) lastActivity.set(side.card, e.at);
        }
      }
    }
  }
  return { transfers, lastActivity, balances };
}
