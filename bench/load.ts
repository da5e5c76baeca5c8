// Mixed cardholder traffic (70 % balance, 20 % statement pages, 5 % quick balance, 5 % top-up) on 1 and then 2 wecard instances over one PostgreSQL and Redis, beside bare Fastify; CPU per request and a capacity model; writes its RESULTS.md section with --write.
import { Agent, request as httpRequest } from 'node:http';
import { cpus } from 'node:os';
import { randomBytes } from 'node:crypto';
import { getBalance } from '../src/ledger/index.ts';
import {
  backendCpuMs,
  backendDelta,
  bind,
  call,
  eachLimited,
  freshSchema,
  percentile,
  pgVersion,
  seedHolders,
  signIn,
  SmsGateway,
  startInstance,
  startPlatform,
  type BenchDb,
  type Holder,
  type Proc,
  type Session,
} from './cluster.ts';
import { freePort } from './db.ts';
import { machine, today, writeSection } from './results.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '64');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? '10');
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? '3');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
/** Bound cardholders of the balance and statement traffic, round-robin. */
const USERS = Number(process.env.BENCH_USERS ?? '256');
/** Statement lines per card (20 a page: three pages). */
const HISTORY = Number(process.env.BENCH_HISTORY ?? '45');
/** Instance counts to measure, in order. */
const INSTANCES = (process.env.BENCH_INSTANCES ?? '1,2').split(',').map(Number);
/** Initial actor pools; grown after each warm-up to what the measured rate needs. */
const QB_ACTORS = Number(process.env.BENCH_QB_ACTORS ?? '64');
const TOPUP_ACTORS = Number(process.env.BENCH_TOPUP_ACTORS ?? '16');
/** Largest pool the bench grows to (setup time); operations that then find no actor are reported. */
const ACTORS_MAX = Number(process.env.BENCH_ACTORS_MAX ?? '8000');
/** Utilisation the capacity model plans each core for (headroom for peaks, GC and failover). */
const PLAN_UTILISATION = Number(process.env.BENCH_PLAN_UTILISATION ?? '0.6');
const PLAN_RPS = 100_000;
const SETUP_CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 30_000;

const BANK = 'realtime-bank';
const CITIZEN = 'hz-citizen-card';
/** One code per phone and purpose a minute (identity's resend throttle), plus a margin. */
const QB_COOLDOWN_MS = 61_000;
/** topup's ORDERS_PER_MINUTE (10) per user: one order every 6.5 s stays under it in any 60 s. */
const TOPUP_COOLDOWN_MS = 6_500;
const TOPUP_FEN = 5_000;
/** A registered card's ¥5,000 cap holds 100 orders of ¥50 (paid or open): retire the actor before. */
const TOPUP_MAX_ORDERS = 90;

/** The mix by cardholder operation; a quick balance is two requests (start, confirm), a top-up an order and its payment. */
const MIX = { balance: 70, statement: 20, quick: 5, topup: 5 } as const;
type Op = keyof typeof MIX;

const ENDPOINTS = {
  balance: '`GET /api/v1/cards/{cardId}/balance`',
  statement: '`GET /api/v1/cards/{cardId}/transactions` (cursor pages of 20)',
  quickStart: '`POST /api/v1/quick-balance` (code by SMS)',
  quickConfirm: '`POST /api/v1/quick-balance/{id}/confirm`',
  topup: '`POST /api/v1/topups` (Idempotency-Key)',
  notify: '`POST /wechat/pay/{tenantId}/notify` (sandbox cashier pays; latency = cashier + notification)',
} as const;
type Endpoint = keyof typeof ENDPOINTS;

// ---------------------------------------------------------------- HTTP client of the load

interface Target {
  host: string;
  port: number;
  agent: Agent;
}

function target(url: string, sockets: number): Target {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), agent: new Agent({ keepAlive: true, maxSockets: sockets }) };
}

interface Reply {
  status: number;
  text: string;
}

function send(t: Target, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      { host: t.host, port: t.port, method, path, agent: t.agent, headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------- what one run records

class Stats {
  latencies: number[] = [];
  ok = 0;
  statuses = new Map<number, number>();
  errors = 0;

  add(ms: number, status: number | undefined): void {
    this.latencies.push(ms);
    if (status === undefined) this.errors++;
    else if (status >= 200 && status < 300) this.ok++;
    else this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  get count(): number {
    return this.latencies.length;
  }

  get non2xx(): number {
    let n = 0;
    for (const v of this.statuses.values()) n += v;
    return n;
  }

  merge(o: Stats): void {
    for (const x of o.latencies) this.latencies.push(x);
    this.ok += o.ok;
    this.errors += o.errors;
    for (const [k, v] of o.statuses) this.statuses.set(k, (this.statuses.get(k) ?? 0) + v);
  }
}

/** The measured window: requests that finished inside it are recorded; CPU is sampled at its edges. */
class Window {
  readonly stats = new Map<string, Stats>();
  recording = false;
  /** Operations that found no actor off its cooldown and ran as a balance query instead. */
  short = { quick: 0, topup: 0 };
  paidOrders: string[] = [];

  record(endpoint: string, ms: number, status: number | undefined): void {
    if (!this.recording) return;
    let s = this.stats.get(endpoint);
    if (!s) this.stats.set(endpoint, (s = new Stats()));
    s.add(ms, status);
  }
}

async function timed(w: Window, endpoint: string, work: () => Promise<Reply>): Promise<Reply | undefined> {
  const started = performance.now();
  try {
    const r = await work();
    w.record(endpoint, performance.now() - started, r.status);
    return r;
  } catch {
    w.record(endpoint, performance.now() - started, undefined);
    return undefined;
  }
}

// ---------------------------------------------------------------- actors

interface BoundUser {
  session: Session;
  holder: Holder;
  cardId: string;
  /** The next statement page's cursor (undefined: the first page). */
  cursor?: string;
}

interface Actor {
  session: Session;
  holder: Holder;
  readyAt: number;
  orders: number;
}

/** Actors that may act again only after a cooldown (SMS resend throttle, top-up rate limit), kept in order of readiness. */
class Pool {
  readonly queue: Actor[] = [];
  size = 0;
  constructor(readonly cooldownMs: number) {}

  add(a: Actor): void {
    this.insert(a);
    this.size++;
  }

  take(now: number): Actor | undefined {
    const a = this.queue[0];
    if (!a || a.readyAt > now) return undefined;
    return this.queue.shift();
  }

  giveBack(a: Actor, lastUse: number, retire = false): void {
    a.readyAt = lastUse + this.cooldownMs;
    if (retire) this.size--;
    else this.insert(a);
  }

  /** Sorted by readyAt: an actor added later may be ready before ones that just acted. */
  private insert(a: Actor): void {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.queue[mid]!.readyAt <= a.readyAt) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, a);
  }
}

interface World {
  db: BenchDb;
  sms: SmsGateway;
  platform: Proc;
  instances: Proc[];
  users: BoundUser[];
  quick: Pool;
  topups: Pool;
}

/** The operations in order, 20 a cycle, spread by smooth weighted round-robin so every window sees the mix. */
function schedule(): Op[] {
  const ops = Object.keys(MIX) as Op[];
  const total = ops.reduce((a, o) => a + MIX[o], 0);
  const current = new Map<Op, number>(ops.map((o) => [o, 0]));
  const out: Op[] = [];
  for (let i = 0; i < total / 5; i++) {
    for (const o of ops) current.set(o, current.get(o)! + MIX[o]);
    const pick = ops.reduce((a, b) => (current.get(b)! > current.get(a)! ? b : a));
    current.set(pick, current.get(pick)! - total);
    out.push(pick);
  }
  return out;
}

async function growPools(w: World, quickNeeded: number, topupNeeded: number): Promise<void> {
  const base = w.instances[0]!.url;
  const quickMore = Math.max(0, quickNeeded - w.quick.size);
  const topupMore = Math.max(0, topupNeeded - w.topups.size);
  if (quickMore + topupMore === 0) return;
  process.stdout.write(`  adding ${quickMore} quick-balance and ${topupMore} top-up actors…\n`);
  if (quickMore > 0) {
    // Cards that nobody bound, each probed by its own WeChat account: one card per account, so no probe looks like enumeration.
    const cards = await seedHolders(w.db.ctx, { tenantId: BANK, count: quickMore, kind: 'debit', bindable: false });
    const sessions = await eachLimited(cards, SETUP_CONCURRENCY, () => signIn(w.platform.url, base, BANK));
    cards.forEach((holder, i) => w.quick.add({ session: sessions[i]!, holder, readyAt: 0, orders: 0 }));
  }
  if (topupMore > 0) {
    const cards = await seedHolders(w.db.ctx, { tenantId: CITIZEN, count: topupMore, kind: 'citizen', bindable: true });
    await eachLimited(cards, SETUP_CONCURRENCY, async (holder) => {
      const session = await signIn(w.platform.url, base, CITIZEN);
      await bind(base, w.sms, session, holder);
      w.topups.add({ session, holder, readyAt: 0, orders: 0 });
    });
  }
}

// ---------------------------------------------------------------- the operations

interface Vu {
  wecard: Target;
  platform: Target;
}

let userTurn = 0;
const nextUser = (w: World) => w.users[userTurn++ % w.users.length]!;

async function balanceOp(w: World, win: Window, vu: Vu): Promise<void> {
  const u = nextUser(w);
  await timed(win, 'balance', () => send(vu.wecard, 'GET', `/api/v1/cards/${u.cardId}/balance`, u.session.headers));
}

async function statementOp(w: World, win: Window, vu: Vu): Promise<void> {
  const u = nextUser(w);
  const path = `/api/v1/cards/${u.cardId}/transactions?limit=20${u.cursor ? `&cursor=${encodeURIComponent(u.cursor)}` : ''}`;
  const r = await timed(win, 'statement', () => send(vu.wecard, 'GET', path, u.session.headers));
  if (r?.status === 200) u.cursor = (JSON.parse(r.text) as { nextCursor: string | null }).nextCursor ?? undefined;
  else u.cursor = undefined;
}

async function quickOp(w: World, win: Window, vu: Vu): Promise<void> {
  const now = Date.now();
  const a = w.quick.take(now);
  if (!a) {
    if (win.recording) win.short.quick++;
    return balanceOp(w, win, vu);
  }
  // The phone's resend throttle counts from when the code was sent, i.e. by the time the start answered.
  let sentBy = now;
  try {
    const headers = { ...a.session.headers, 'idempotency-key': `qb-${randomBytes(9).toString('base64url')}` };
    const started = await timed(win, 'quickStart', () => send(vu.wecard, 'POST', '/api/v1/quick-balance', headers, { tenantId: BANK, cardNumber: a.holder.cardNumber, phone: a.holder.phone }));
    sentBy = Date.now();
    if (started?.status !== 201) return;
    const { challengeId } = JSON.parse(started.text) as { challengeId: string };
    const otp = w.sms.codeFor(a.holder.phone, now);
    await timed(win, 'quickConfirm', () => send(vu.wecard, 'POST', `/api/v1/quick-balance/${challengeId}/confirm`, a.session.headers, { otp }));
  } finally {
    w.quick.giveBack(a, sentBy);
  }
}

async function topupOp(w: World, win: Window, vu: Vu): Promise<void> {
  const now = Date.now();
  const a = w.topups.take(now);
  if (!a) {
    if (win.recording) win.short.topup++;
    return balanceOp(w, win, vu);
  }
  a.orders++;
  // The per-user order limit counts the order when it was taken, at the latest by its answer.
  let placedBy = now;
  try {
    const headers = { ...a.session.headers, 'idempotency-key': `tu-${randomBytes(9).toString('base64url')}` };
    const order = await timed(win, 'topup', () => send(vu.wecard, 'POST', '/api/v1/topups', headers, { citizenCardNumber: a.holder.cardNumber, amount: TOPUP_FEN, method: 'wechat_balance' }));
    placedBy = Date.now();
    if (order?.status !== 201) return;
    const body = JSON.parse(order.text) as { orderId: string; payParams: { package: string } };
    const prepayId = body.payParams.package.replace(/^prepay_id=/, '');
    // The cashier answers with the outcome of its first delivery: the status wecard gave the signed notification.
    const started = performance.now();
    let status: number | undefined;
    try {
      const paid = await send(vu.platform, 'POST', `/sandbox/api/pay/orders/${prepayId}/pay`, {}, {});
      const outcome = paid.status === 200 ? (JSON.parse(paid.text) as { notification: { delivered: boolean; status: number | null } }).notification : undefined;
      status = outcome?.status ?? undefined;
      if (outcome?.delivered && win.recording) win.paidOrders.push(body.orderId);
    } catch {
      status = undefined;
    }
    win.record('notify', performance.now() - started, status);
  } finally {
    w.topups.giveBack(a, placedBy, a.orders >= TOPUP_MAX_ORDERS);
  }
}

const OPS: Record<Op, (w: World, win: Window, vu: Vu) => Promise<void>> = { balance: balanceOp, statement: statementOp, quick: quickOp, topup: topupOp };

// ---------------------------------------------------------------- runs

interface Run {
  seconds: number;
  win: Window;
  /** CPU ms of the wecard instances, the platform, the PostgreSQL backends of the instances, the load generator. */
  cpu: { instances: number; platform: number; postgres: number | undefined; generator: number };
}

async function cpuSample(w: World): Promise<{ instances: number; platform: number; postgres: Map<number, number> | undefined; generator: number }> {
  const [instances, platform, postgres] = await Promise.all([Promise.all(w.instances.map((p) => p.cpuMs())), w.platform.cpuMs(), backendCpuMs()]);
  const g = process.cpuUsage();
  return { instances: instances.reduce((a, b) => a + b, 0), platform, postgres, generator: (g.user + g.system) / 1000 };
}

/** CONNECTIONS virtual users, each one request (or flow) at a time, spread over the instances as a balancer would by connection. */
async function run(w: World, seconds: number, record: boolean, body: (win: Window, vu: Vu, i: number) => Promise<void>, targets: Target[], platform: Target): Promise<Run> {
  const win = new Window();
  const before = await cpuSample(w);
  win.recording = record;
  const started = performance.now();
  const endAt = started + seconds * 1000;
  let stopped = false;
  const timer = setTimeout(() => {
    stopped = true;
    win.recording = false;
  }, seconds * 1000);
  const loops = Array.from({ length: CONNECTIONS }, async (_, i) => {
    const vu = { wecard: targets[i % targets.length]!, platform };
    while (!stopped && performance.now() < endAt) await body(win, vu, i);
  });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const after = await cpuSample(w);
  await Promise.all(loops);
  clearTimeout(timer);
  return {
    seconds: elapsed,
    win,
    cpu: { instances: after.instances - before.instances, platform: after.platform - before.platform, postgres: backendDelta(before.postgres, after.postgres), generator: after.generator - before.generator },
  };
}

function mixBody(w: World): (win: Window, vu: Vu) => Promise<void> {
  const order = schedule();
  let turn = 0;
  return (win, vu) => OPS[order[turn++ % order.length]!](w, win, vu);
}

function bareBody(win: Window, vu: Vu): Promise<void> {
  return timed(win, 'bare', () => send(vu.wecard, 'GET', '/bare', {})).then(() => undefined);
}

interface Measured {
  instances: number;
  mix: Run[];
  bare: Run[];
}

function totals(runs: Run[]): { seconds: number; stats: Map<string, Stats>; cpu: Run['cpu']; short: Window['short']; paid: string[] } {
  const stats = new Map<string, Stats>();
  const cpu = { instances: 0, platform: 0, postgres: 0 as number | undefined, generator: 0 };
  const short = { quick: 0, topup: 0 };
  const paid: string[] = [];
  let seconds = 0;
  for (const r of runs) {
    seconds += r.seconds;
    for (const [k, s] of r.win.stats) {
      let t = stats.get(k);
      if (!t) stats.set(k, (t = new Stats()));
      t.merge(s);
    }
    cpu.instances += r.cpu.instances;
    cpu.platform += r.cpu.platform;
    cpu.postgres = cpu.postgres === undefined || r.cpu.postgres === undefined ? undefined : cpu.postgres + r.cpu.postgres;
    cpu.generator += r.cpu.generator;
    short.quick += r.win.short.quick;
    short.topup += r.win.short.topup;
    paid.push(...r.win.paidOrders);
  }
  for (const s of stats.values()) s.latencies.sort((a, b) => a - b);
  return { seconds, stats, cpu, short, paid };
}

const wecardRequests = (stats: Map<string, Stats>) => [...stats].filter(([k]) => k !== 'bare').reduce((a, [, s]) => a + s.count, 0);

async function measure(w: World, n: number): Promise<Measured> {
  while (w.instances.length < n) {
    w.instances.push(await startInstance({ schema: w.db.schema, platformUrl: w.platform.url, smsUrl: w.sms.url, name: String(w.instances.length + 1) }));
  }
  const per = Math.ceil(CONNECTIONS / n);
  const wecard = w.instances.map((p) => target(p.url, per));
  const bare = w.instances.map((p) => target(p.bareUrl!, per));
  const platform = target(w.platform.url, CONNECTIONS);
  process.stdout.write(`\n${n} instance(s): warming up (${WARMUP_S}s each)…\n`);
  await run(w, WARMUP_S, false, bareBody, bare, platform);
  const warm = await run(w, WARMUP_S, true, mixBody(w), wecard, platform);
  // Enough actors for the rate just seen (requests/s, a little above operations/s), with room: each quick balance blocks its phone a minute, each top-up its user 6.5 s.
  const opsPerSecond = wecardRequests(warm.win.stats) / warm.seconds;
  const share = (op: Op) => MIX[op] / Object.values(MIX).reduce((a, b) => a + b, 0);
  const need = (op: Op, cooldownMs: number) => Math.min(ACTORS_MAX, Math.ceil(opsPerSecond * share(op) * (cooldownMs / 1000) * 1.3));
  await growPools(w, need('quick', QB_COOLDOWN_MS), need('topup', TOPUP_COOLDOWN_MS));
  const m: Measured = { instances: n, mix: [], bare: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    m.bare.push(await run(w, DURATION_S, true, bareBody, bare, platform));
    m.mix.push(await run(w, DURATION_S, true, mixBody(w), wecard, platform));
    const b = totals(m.bare.slice(-1));
    const x = totals(m.mix.slice(-1));
    process.stdout.write(`  round ${round}: bare ${(b.stats.get('bare')?.count ?? 0) / b.seconds | 0} req/s; mix ${(wecardRequests(x.stats) / x.seconds) | 0} req/s, instances' CPU ${(x.cpu.instances / wecardRequests(x.stats)).toFixed(2)} ms/request\n`);
  }
  for (const a of [...wecard, ...bare, platform]) a.agent.destroy();
  return m;
}

// ---------------------------------------------------------------- sanity before the load

async function sanity(w: World): Promise<void> {
  const base = w.instances[0]!.url;
  const u = w.users[0]!;
  const ledger = await getBalance(w.db.ctx.db, u.holder.ledgerAccountId);
  const b = await call(`${base}/api/v1/cards/${u.cardId}/balance`, { headers: u.session.headers });
  if (b.status !== 200 || b.body.available !== Number(ledger.availableFen) || !/^\d{6}\*+\d{4}$/.test(b.body.maskedNumber) || JSON.stringify(b.body).includes(u.holder.cardNumber)) {
    throw new Error(`balance answered ${b.status} ${JSON.stringify(b.body)} (ledger ${ledger.availableFen})`);
  }
  // Paging the statement gives every line once.
  const seen = new Set<string>();
  let cursor: string | null = null;
  let pages = 0;
  do {
    const p = await call(`${base}/api/v1/cards/${u.cardId}/transactions?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: u.session.headers });
    if (p.status !== 200) throw new Error(`statement page answered ${p.status} ${JSON.stringify(p.body)}`);
    for (const item of p.body.items as { id: string }[]) seen.add(item.id);
    cursor = p.body.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  if (seen.size !== HISTORY) throw new Error(`statement paging gave ${seen.size} distinct lines in ${pages} pages, the card has ${HISTORY}`);
  const refused = await call(`${base}/api/v1/cards/${u.cardId}/balance`, { headers: { authorization: 'Bearer x' } });
  const foreign = await call(`${base}/api/v1/cards/${u.cardId}/balance`, { headers: w.users[1]!.session.headers });
  if (refused.status !== 401 || foreign.status !== 403) throw new Error(`refusals answered ${refused.status} and ${foreign.status}`);

  // One quick balance and one paid top-up through the same paths the load takes.
  const q = w.quick.take(Date.now())!;
  const since = Date.now();
  const qs = await call(`${base}/api/v1/quick-balance`, { headers: q.session.headers, body: { tenantId: BANK, cardNumber: q.holder.cardNumber, phone: q.holder.phone } });
  if (qs.status !== 201) throw new Error(`quick balance answered ${qs.status} ${JSON.stringify(qs.body)}`);
  const qc = await call(`${base}/api/v1/quick-balance/${qs.body.challengeId}/confirm`, { headers: q.session.headers, body: { otp: w.sms.codeFor(q.holder.phone, since) } });
  if (qc.status !== 200 || typeof qc.body.available !== 'number' || qc.body.freshness !== 't+1') throw new Error(`quick balance confirmation answered ${qc.status} ${JSON.stringify(qc.body)}`);
  w.quick.giveBack(q, since);

  const t = w.topups.take(Date.now())!;
  const key = { ...t.session.headers, 'idempotency-key': `sanity-${randomBytes(6).toString('hex')}` };
  const order = { citizenCardNumber: t.holder.cardNumber, amount: TOPUP_FEN, method: 'wechat_balance' };
  const first = await call(`${base}/api/v1/topups`, { headers: key, body: order });
  const again = await call(`${base}/api/v1/topups`, { headers: key, body: order });
  if (first.status !== 201 || again.status !== 201 || again.body.orderId !== first.body.orderId) throw new Error(`top-up and its replay answered ${first.status} ${again.status} ${JSON.stringify([first.body, again.body])}`);
  const paid = await call(`${w.platform.url}/sandbox/api/pay/orders/${first.body.payParams.package.replace(/^prepay_id=/, '')}/pay`, { body: {} });
  const view = await call(`${base}/api/v1/topups/${first.body.orderId}`, { headers: t.session.headers });
  if (paid.status !== 200 || !paid.body.notification.delivered || !['credited', 'settling', 'completed'].includes(view.body.status)) {
    throw new Error(`paying the top-up answered ${paid.status} ${JSON.stringify(paid.body)}; the order is ${JSON.stringify(view.body)}`);
  }
  t.orders += 2;
  w.topups.giveBack(t, Date.now());
}

/** Every order whose notification wecard accepted during the measurement is credited. */
async function creditedCount(w: World, ids: string[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < ids.length; i += 1_000) {
    const r = await w.db.ctx.db
      .selectFrom('topup_orders')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('id', 'in', ids.slice(i, i + 1_000))
      .where('status', 'in', ['credited', 'settling', 'completed'])
      .executeTakeFirstOrThrow();
    n += Number(r.n);
  }
  return n;
}

/** The instances' job queue after a measurement: due jobs not yet run (the job runner falling behind) and jobs that failed for good. */
async function jobBacklog(w: World): Promise<{ due: number; byTopic: string; dead: number }> {
  const now = new Date();
  const due = await w.db.ctx.db
    .selectFrom('outbox')
    .select(['topic', (eb) => eb.fn.countAll<string>().as('n')])
    .where('done_at', 'is', null)
    .where('dead_at', 'is', null)
    .where('run_after', '<=', now)
    .groupBy('topic')
    .execute();
  const dead = await w.db.ctx.db.selectFrom('outbox').select((eb) => eb.fn.countAll<string>().as('n')).where('dead_at', 'is not', null).executeTakeFirstOrThrow();
  return {
    due: due.reduce((a, r) => a + Number(r.n), 0),
    byTopic: due
      .sort((a, b) => Number(b.n) - Number(a.n))
      .map((r) => `${r.topic} ${r.n}`)
      .join(', '),
    dead: Number(dead.n),
  };
}

// ---------------------------------------------------------------- report

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

function statusText(s: Stats): string {
  const parts = [...s.statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`);
  return parts.length ? `${s.non2xx} (${parts.join(', ')})` : '0';
}

interface Summary {
  instances: number;
  rps: number;
  bareRps: number;
  cpuPerRequest: number;
  bareCpuPerRequest: number;
  pgPerRequest: number | undefined;
  platformPerRequest: number;
  coresBusy: number;
  failures: number;
  credited: { paid: number; credited: number };
}

async function report(w: World, m: Measured): Promise<{ table: string; summary: Summary }> {
  const mix = totals(m.mix);
  const bare = totals(m.bare);
  const requests = wecardRequests(mix.stats);
  const cardholder = (['balance', 'statement', 'quickStart', 'quickConfirm', 'topup'] as Endpoint[]).reduce((a, e) => a + (mix.stats.get(e)?.count ?? 0), 0);
  const rows = (Object.keys(ENDPOINTS) as Endpoint[]).map((e) => {
    const s = mix.stats.get(e) ?? new Stats();
    const share = e === 'notify' ? '–' : `${f1((s.count / cardholder) * 100)} %`;
    return `| ${ENDPOINTS[e]} | ${s.count} | ${share} | ${f0(s.count / mix.seconds)} | ${f1(percentile(s.latencies, 50))} | ${f1(percentile(s.latencies, 99))} | ${statusText(s)} | ${s.errors} |`;
  });
  const all = new Stats();
  for (const [k, s] of mix.stats) if (k !== 'bare') all.merge(s);
  all.latencies.sort((a, b) => a - b);
  const b = bare.stats.get('bare') ?? new Stats();
  const bareRps = b.count / bare.seconds;
  const failures = all.non2xx + all.errors + b.non2xx + b.errors;
  const credited = await creditedCount(w, mix.paid);
  const jobs = await jobBacklog(w);
  const summary: Summary = {
    instances: m.instances,
    rps: requests / mix.seconds,
    bareRps,
    cpuPerRequest: mix.cpu.instances / requests,
    bareCpuPerRequest: bare.cpu.instances / b.count,
    pgPerRequest: mix.cpu.postgres === undefined ? undefined : mix.cpu.postgres / requests,
    platformPerRequest: mix.cpu.platform / requests,
    coresBusy: mix.cpu.instances / 1000 / mix.seconds,
    failures,
    credited: { paid: mix.paid.length, credited },
  };
  const table = [
    `**${m.instances} instance${m.instances > 1 ? 's' : ''}** (${CONNECTIONS} connections${m.instances > 1 ? ` split ${Math.ceil(CONNECTIONS / m.instances)} per instance` : ''}; ${ROUNDS} × ${DURATION_S} s of each)`,
    '',
    '| endpoint | requests | share of cardholder requests | req/s | p50 ms | p99 ms | non-2xx | errors |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    `| **all wecard requests** | ${all.count} | – | **${f0(summary.rps)}** | ${f1(percentile(all.latencies, 50))} | ${f1(percentile(all.latencies, 99))} | ${statusText(all)} | ${all.errors} |`,
    `| bare Fastify \`GET /bare\` (reference, same processes, same run) | ${b.count} | – | ${f0(bareRps)} | ${f1(percentile(b.latencies, 50))} | ${f1(percentile(b.latencies, 99))} | ${statusText(b)} | ${b.errors} |`,
    '',
    `CPU: the wecard instances **${f2(summary.cpuPerRequest)} ms per request** (${f2(summary.coresBusy)} cores busy; bare Fastify ${f2(summary.bareCpuPerRequest)} ms per request); ` +
      `PostgreSQL backends of the instances ${summary.pgPerRequest === undefined ? 'not measured' : `${f2(summary.pgPerRequest)} ms per request`}; ` +
      `the platform (sandbox WeChat, not wecard) ${f2(summary.platformPerRequest)} ms; the load generator ${f2(mix.cpu.generator / requests)} ms.` +
      ` Top-ups paid in the measurement: ${credited.toString()} of ${mix.paid.length} credited.` +
      ` Outbox (background jobs) due and not done at the end: ${jobs.due}${jobs.byTopic ? ` (${jobs.byTopic})` : ''}; dead letters: ${jobs.dead}.` +
      (mix.short.quick + mix.short.topup > 0 ? ` **${mix.short.quick} quick balances and ${mix.short.topup} top-ups found no actor off cooldown and ran as balance queries.**` : ''),
  ].join('\n');
  return { table, summary };
}

function capacity(s: Summary[]): string {
  const one = s.find((x) => x.instances === 1) ?? s[0]!;
  const last = s[s.length - 1]!;
  const cores = cpus().length;
  // The larger of the measured figures: CPU per request may rise as instances share cores.
  const cpuPerRequest = Math.max(...s.map((x) => x.cpuPerRequest));
  const pgPerRequest = s.some((x) => x.pgPerRequest === undefined) ? undefined : Math.max(...s.map((x) => x.pgPerRequest!));
  const perCore = 1000 / cpuPerRequest;
  const instances = Math.ceil(PLAN_RPS / (perCore * PLAN_UTILISATION));
  const pgCores = pgPerRequest === undefined ? undefined : Math.ceil((PLAN_RPS * pgPerRequest) / 1000 / PLAN_UTILISATION);
  const lines = [
    '### Capacity model',
    '',
    `CPU per request of this mix (${s.length > 1 ? 'the larger of the runs above' : 'measured above'}: ${f2(cpuPerRequest)} ms, every thread of the instance processes, background jobs included): one fully busy core serves about ${f0(perCore)} req/s of the mix.`,
    `For **${PLAN_RPS.toLocaleString('en')} req/s** at ${PLAN_UTILISATION * 100} % planned utilisation: **${instances} instances on ${instances} cores** (one Node instance per core, ${f0(perCore * PLAN_UTILISATION)} req/s each).`,
    `One instance here served ${f0(one.rps)} req/s with ${f2(one.coresBusy)} cores busy: ${one.coresBusy < 0.8 ? 'it was not CPU-bound (requests wait on PostgreSQL and the shared machine), so the per-instance rate above is a projection from CPU time, reached only once waiting is not the limit' : 'it was close to CPU-bound, so the per-instance rate above is near what one core gives'}.`,
    pgCores === undefined
      ? 'PostgreSQL was not measured here (no /proc).'
      : `PostgreSQL is sized separately: the instances' backends used ${f2(pgPerRequest!)} ms of CPU per request, about ${pgCores} cores at the same utilisation, before WAL, checkpoints, replication and I/O, which this bench does not measure; every query writes (audit, quota, risk rows), so one primary's write capacity, not wecard, is the first limit to check.`,
    '',
    'Assumptions: the mix as measured (operations 70/20/5/5; a quick balance is two requests, a top-up an order plus its Pay notification); CPU per request stays what it is here as instances are added (no contention in PostgreSQL or Redis); TLS, the load balancer, Redis and the WeChat platform are outside the figure; the figures come from a shared development machine, not a sizing on production hardware.',
  ];
  if (s.length > 1) {
    const change = (last.cpuPerRequest / one.cpuPerRequest - 1) * 100;
    lines.push(
      '',
      `Scaling 1 → ${last.instances} instances: ${f0(one.rps)} → ${f0(last.rps)} req/s (× ${f2(last.rps / one.rps)}); instances' cores busy ${f2(one.coresBusy)} → ${f2(last.coresBusy)}; CPU per request ${f2(one.cpuPerRequest)} → ${f2(last.cpuPerRequest)} ms (${change >= 0 ? '+' : ''}${f0(change)} %). ` +
        `This machine has ${cores} cores shared by the instances, PostgreSQL, the sandbox platform and the load generator, so ${cores <= 2 ? 'a second instance is bounded by cores and cannot double throughput here' : 'the scaling shown is bounded by the cores left to the instances'}; ` +
        'the planning figure is the CPU per request, which adding instances on free cores would keep.',
    );
  }
  return lines.join('\n');
}

const SECTION_INTRO = `## Mixed cardholder load on 1 and 2 instances, and capacity (issue 10)

What is measured: the real server as in production (a child process per instance: \`NODE_ENV=production\`, every
module of src/app/modules.ts, background jobs polled as src/main.ts does, Redis for rate limits and caches,
production logger into /dev/null) on one PostgreSQL; the WeChat platform (the sandbox) runs in its own process
and the bench plays the SMS gateway. Traffic by operation: 70 % balance, 20 % statement pages (following
\`nextCursor\`), 5 % quick balance (start, the code read from the SMS, confirm; each card's phone once a minute),
5 % top-up (order with an Idempotency-Key on a bound electronic citizen card, then paid at the sandbox cashier,
whose signed notification wecard credits). Balance and statements from ${USERS} bound cardholders of the real-time bank;
quick balance and top-up actors are sized after each warm-up for the rate seen. Every answer's status is counted.
CPU per request is the instances' process CPU time (all threads) over the window divided by the wecard requests
answered in it. The reference is a bare \`Fastify()\` JSON route inside each instance process, loaded the same way.`;

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const db = await freshSchema('load');
  const sms = new SmsGateway();
  let platform: Proc | undefined;
  const instances: Proc[] = [];
  try {
    process.stdout.write(`schema ${db.schema}: demo data and ${USERS} cardholders with ${HISTORY} statement lines each…\n`);
    const holders = await seedHolders(db.ctx, { tenantId: BANK, count: USERS, kind: 'debit', history: HISTORY, bindable: true });
    await sms.start();
    const firstPort = await freePort();
    platform = await startPlatform(db.schema, `http://127.0.0.1:${firstPort}`);
    instances.push(await startInstance({ schema: db.schema, platformUrl: platform.url, smsUrl: sms.url, name: '1', port: firstPort }));
    const base = instances[0]!.url;
    process.stdout.write(`signing in and binding ${USERS} cardholders through the API…\n`);
    const users = await eachLimited(holders, SETUP_CONCURRENCY, async (holder) => {
      const session = await signIn(platform!.url, base, BANK);
      const { cardId } = await bind(base, sms, session, holder);
      return { session, holder, cardId } satisfies BoundUser;
    });
    const w: World = { db, sms, platform, instances, users, quick: new Pool(QB_COOLDOWN_MS), topups: new Pool(TOPUP_COOLDOWN_MS) };
    await growPools(w, QB_ACTORS, TOPUP_ACTORS);
    await sanity(w);

    const results: { table: string; summary: Summary }[] = [];
    for (const n of INSTANCES) results.push(await report(w, await measure(w, n)));

    const failures = results.reduce((a, r) => a + r.summary.failures, 0);
    const uncredited = results.reduce((a, r) => a + r.summary.credited.paid - r.summary.credited.credited, 0);
    const text = [
      SECTION_INTRO,
      '',
      `- date: ${today()}`,
      `- machine: ${machine()}; PostgreSQL ${await pgVersion()} on the same machine; Redis on the same machine`,
      `- load: ${CONNECTIONS} connections (virtual users, one request or flow at a time), ${ROUNDS} rounds × ${DURATION_S} s of bare and mix after ${WARMUP_S} s warm-up each; instances, platform, database and load generator share the machine`,
      '',
      ...results.flatMap((r) => [r.table, '']),
      capacity(results.map((r) => r.summary)),
      '',
      `Answers other than 2xx, and errors: **${failures}**; paid top-ups not credited: **${uncredited}**.`,
    ].join('\n');
    process.stdout.write(`\n${text}\n`);
    if (process.argv.includes('--write')) {
      writeSection('load', text);
      process.stdout.write('\nwrote the load section of bench/RESULTS.md\n');
    }
    if (failures > 0 || uncredited > 0) process.exitCode = 1;
  } finally {
    for (const p of instances) await p.stop().catch(() => undefined);
    await platform?.stop().catch(() => undefined);
    await sms.close().catch(() => undefined);
    await db.close();
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
