// Crash safety on PostgreSQL: the real server in a child process is SIGKILLed at random moments or at armed crash points between order, notification and credit, restarted, and recovery must credit every payment exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTx } from '../../../src/db/tx.ts';
import { systemClock } from '../../../src/shared/clock.ts';
import { findAccountByCode, findTransferByIdempotencyId, transfer } from '../../../src/ledger/index.ts';
import { DELIVER_NOTIFICATION_TOPIC } from '../../../src/sandbox/pay/index.ts';
import { confirmLoad, QUERY_TOPIC, topupDetail } from '../../../src/topup/index.ts';
import { freePort } from '../../helpers/platform.ts';
import { testDbKind } from '../../helpers/db.ts';
import { propertySeed } from '../../unit/shared/seed.ts';
import { assertEveryFenAccounted, baseline, CITIZEN, startTopupWorld, TENANT, type Baseline, type Session, type TopupWorld } from './world.ts';

/** Kill/restart cycles: TOPUP_KILL_RUNS=100 for the full acceptance run (a few minutes on an idle machine); 8 by default. */
const RUNS = Number(process.env.TOPUP_KILL_RUNS ?? 8);
/** Orders paid per cycle, concurrently: the kill lands among several in-flight payments. */
const ORDERS_PER_RUN = 3;
/** Random kills land within this long after the payments start (a notification takes a few ms). */
const RANDOM_KILL_MAX_MS = 60;
const CHILD_START_TIMEOUT_MS = 30_000;
const RECOVERY_ROUNDS_MAX = 20;
const ARMED_POINTS = ['notify.in_tx', 'notify.after_credit', 'order.after_intent', 'order.after_prepay'] as const;
const CHILD_SCRIPT = path.resolve(import.meta.dirname, 'kill-child.ts');
/**
 * The child is bundled once (esbuild, which tsx and vite bring along) so each restart skips
 * transforming every source file again; without esbuild it runs through tsx.
 */
const CHILD_BUNDLE = path.resolve(import.meta.dirname, '../../../node_modules/.cache/wecard-topup/kill-child.mjs');
let childArgs: string[] = ['--import', 'tsx', CHILD_SCRIPT];

async function bundleChild(): Promise<void> {
  try {
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    await esbuild.build({ entryPoints: [CHILD_SCRIPT], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: CHILD_BUNDLE, logLevel: 'warning' });
    childArgs = [CHILD_BUNDLE];
  } catch {
    /* run through tsx */
  }
}

const postgres = testDbKind() === 'postgres';
let w: TopupWorld;
let base: Baseline;
let electronic: Session;
let physical: Session;
let port = 0;
let child: ChildProcess | undefined;

/** mulberry32: the cycle plan replays from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function startChild(crashAt?: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, childArgs, {
    env: {
      ...process.env,
      KILL_PORT: String(port),
      KILL_SANDBOX_URL: w.sandbox.url,
      KILL_DATABASE_URL: process.env.TEST_DATABASE_URL!,
      KILL_SCHEMA: w.platform.db.schema!,
      WECARD_TOPUP_CRASH_AT: crashAt ?? '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  c.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2_000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not start: ${err}`)), CHILD_START_TIMEOUT_MS);
    c.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before ready: ${err}`));
    });
  });
  return c;
}

async function killChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGKILL');
  await gone;
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

async function childCall(method: string, p: string, s: Session, body: unknown, key: string): Promise<{ status: number; body: any } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}`, 'x-device-id': s.deviceId, 'idempotency-key': key },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  } catch {
    return undefined; // the process died under the request
  }
}

interface Planned {
  session: Session;
  body: { citizenCardNumber: string; amount: number; method: string };
  key: string;
  form: 'electronic' | 'physical';
  orderId?: string;
  prepayId?: string;
}

beforeAll(async () => {
  if (!postgres) return;
  w = await startTopupWorld({ clock: systemClock });
  base = await baseline(w);
  electronic = await w.signIn();
  await w.bind(electronic, w.holder(CITIZEN.electronic));
  physical = await w.signIn();
  await w.bind(physical, w.holder(CITIZEN.physical));
  port = await freePort();
  await bundleChild();
}, 120_000);
afterAll(async () => {
  if (child) await killChild(child);
  await w?.close();
});

describe.skipIf(!postgres)('top-ups survive SIGKILL of the server', () => {
  const seed = propertySeed('test/integration/topup/kill.test.ts');

  it(`credits every payment exactly once across ${RUNS} kill-and-restart cycles`, async () => {
    const random = prng(seed);
    const clearing = (await findAccountByCode(w.server.ctx.db, TENANT, 'clearing'))!;
    const stats = { randomKills: 0, armedCrashes: 0, armedNotReached: 0, orders: 0, retriedOrders: 0, creditedByNotification: 0, creditedByQuery: 0 };
    const armedFor = () => (random() < 0.5 ? `${ARMED_POINTS[Math.floor(random() * ARMED_POINTS.length)]}:${1 + Math.floor(random() * ORDERS_PER_RUN)}` : undefined);
    let armed = armedFor();
    let next: Promise<ChildProcess> = startChild(armed);
    for (let run = 0; run < RUNS; run++) {
      const victim = (child = await next);
      const plan: Planned[] = Array.from({ length: ORDERS_PER_RUN }, () => {
        const form = random() < 0.5 ? 'electronic' : 'physical';
        const h = w.holder(form === 'electronic' ? CITIZEN.electronic : CITIZEN.physical);
        return { session: form === 'electronic' ? electronic : physical, form, key: `kill-${randomBytes(6).toString('hex')}`, body: { citizenCardNumber: h.cards[0]!.number, amount: 5_000 + Math.floor(random() * 100) * 100, method: 'wechat_balance' } };
      });
      const killAfterMs = armed ? undefined : Math.floor(random() * RANDOM_KILL_MAX_MS);
      const what = `run ${run} (seed ${seed}): ${armed ? `crash at ${armed}` : `SIGKILL after ${killAfterMs} ms`}`;
      // Orders: an armed order point kills the process under one of these requests.
      for (const p of plan) {
        const r = await childCall('POST', '/api/v1/topups', p.session, p.body, p.key);
        if (r?.status === 201) {
          p.orderId = r.body.orderId;
          p.prepayId = w.prepayOf(r.body.payParams);
        }
      }
      // Payments, all at once; a random kill lands among the notifications.
      const timer = killAfterMs === undefined ? undefined : setTimeout(() => void killChild(victim), killAfterMs);
      await Promise.all(plan.filter((p) => p.prepayId).map((p) => w.pay(p.prepayId!)));
      if (timer) {
        await exited(victim);
        stats.randomKills++;
      } else if (victim.exitCode === null && victim.signalCode === null) {
        stats.armedNotReached++;
        await killChild(victim);
      } else stats.armedCrashes++;
      // The restart begins at once; meanwhile the surviving instance (the in-process server on the same database) recovers.
      armed = run + 1 < RUNS ? armedFor() : undefined;
      next = startChild(armed);

      // The client retries what never got an answer, with the same Idempotency-Key, and pays.
      for (const p of plan.filter((x) => !x.prepayId)) {
        const r = await w.call('POST', '/api/v1/topups', { session: p.session, body: p.body, headers: { 'idempotency-key': p.key } });
        expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(201);
        p.orderId = r.body.orderId;
        p.prepayId = w.prepayOf(r.body.payParams);
        expect((await w.pay(p.prepayId)).status).toBe(200);
        stats.retriedOrders++;
      }
      // Recovery: the order query, run ahead of its schedule (notifications to the dead process were lost).
      for (let i = 0; i < RECOVERY_ROUNDS_MAX; i++) {
        let open = 0;
        for (const p of plan) if (['created', 'paid'].includes((await topupDetail(w.server.ctx.db, TENANT, p.orderId!))!.order.status)) open++;
        if (open === 0) break;
        await w.server.ctx.jobs.runDue({ topics: [QUERY_TOPIC], now: new Date(Date.now() + 30 * 60_000) });
      }

      for (const p of plan) {
        const d = (await topupDetail(w.server.ctx.db, TENANT, p.orderId!))!;
        expect(['credited', 'settling', 'completed'], `${what}: order ${p.orderId}`).toContain(d.order.status);
        const credit = await findTransferByIdempotencyId(w.server.ctx.db, TENANT, `topup:${d.order.id}:credit`);
        expect(credit?.amountFen, what).toBe(BigInt(p.body.amount));
        expect(d.attempts.filter((a) => a.state === 'paid'), what).toHaveLength(1);
        const history = await w.server.ctx.db.selectFrom('topup_history').select('event').where('order_id', '=', d.order.id).execute();
        if (history.some((h) => h.event === 'paid_by_query')) stats.creditedByQuery++;
        else stats.creditedByNotification++;
        // Keep the cards under their caps for the next cycles: write physical loads, then spend it all.
        if (p.form === 'physical') await confirmLoad(w.server.ctx, { tenantId: TENANT, orderId: d.order.id, channel: 'terminal' });
        await inTx(w.server.ctx.db, (tx) =>
          transfer(tx, { idempotencyId: `kill:spend:${d.order.id}`, debitAccountId: d.order.card_ledger_account_id, creditAccountId: clearing.id, amountFen: BigInt(p.body.amount), kind: 'purchase', description: '消费', now: new Date() }),
        );
        base.totalFen -= BigInt(p.body.amount);
        stats.orders++;
      }
    }
    // The last restart is up: WeChat's retries of every lost notification now arrive and change nothing.
    child = await next;
    const before = await baselineTotal();
    await w.sandbox.ctx.jobs.runDue({ topics: [DELIVER_NOTIFICATION_TOPIC], now: new Date(Date.now() + 24 * 3_600_000), limit: 20 });
    for (let i = 0; i < 50 && (await w.sandbox.ctx.jobs.runDue({ topics: [DELIVER_NOTIFICATION_TOPIC], now: new Date(Date.now() + 24 * 3_600_000) })) > 0; i++);
    expect(await baselineTotal()).toBe(before);
    process.stdout.write(`[kill] seed ${seed}: ${JSON.stringify(stats)}\n`);
    expect(stats.orders).toBe(RUNS * ORDERS_PER_RUN);
    await assertEveryFenAccounted(w, base);
  }, 60_000 + RUNS * 15_000);
});

async function baselineTotal(): Promise<bigint> {
  const b = await baseline(w);
  return b.totalFen;
}
