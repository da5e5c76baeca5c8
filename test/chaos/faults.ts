// The faults the chaos run injects, each with how it is undone and how recovery is recognised (the RTO probe).
import type { Supervised } from './children.ts';
import type { PrivatePostgres, PrivateRedis } from './services.ts';
import type { ClientOrder, Kind, Traffic } from './traffic.ts';
import { call, TOPUP_TENANT, type Cardholder } from './world.ts';

/** The sandbox core's slow mode holds each request this long: past the adapter's 1.5 s attempt timeout (src/core/http-adapter.ts). */
const CORE_SLOW_DELAY_MS = 5_000;
/** Copies of each Pay notification sent at once while the Pay fault is on (the most the sandbox allows is 4). */
const PAY_FAULT_DUPLICATES = 2;

export interface Deployment {
  instances: Supervised[];
  pg: PrivatePostgres;
  redis: PrivateRedis;
  sandboxUrl: string;
  frontUrl: string;
  traffic: Traffic;
  /** A reader whose balance the probes read on each instance directly. */
  prober: Cardholder;
  /** A payer whose one order the Pay probe places again and again (same key: never rate-limited). */
  probePayer: Cardholder;
  /** Payers who each place one order before every fault and pay it the moment the fault lands. */
  burstPayers: Cardholder[];
}

export interface Fault {
  name: string;
  /** What is done, for the report. */
  what: string;
  inject(d: Deployment, holdMs: number): Promise<void>;
  /** Undoes the fault; resolves once the undoing was started (a restart's readiness is the probe's business). */
  clear(d: Deployment): Promise<void>;
  /** RTO counts from the injection (a killed process is restarted at once) or from the clearing (an outage ends). */
  rtoFrom: 'inject' | 'clear';
  /** True when the deployment serves again as before the fault. */
  recovered(d: Deployment): Promise<boolean>;
  /**
   * What the design promises while the fault lasts: requests of these kinds, sent from `graceMs`
   * after the injection until recovery, all succeed (a stale balance counts: it is the promised answer).
   */
  promise?: { kinds: Kind[]; graceMs: number; why: string };
}

/** Every instance, asked directly, answers the prober's balance with 200 and a fresh value (stale=false). */
async function everyInstanceFresh(d: Deployment): Promise<boolean> {
  const answers = await Promise.all(d.instances.map((c) => d.traffic.readBalance(`http://127.0.0.1:${c.port}`, d.prober, false)));
  return answers.every((a) => a.ok && !a.stale);
}

async function put(url: string, body: unknown): Promise<void> {
  const a = await call(url, { method: 'PUT', body });
  if (a.status !== 200) throw new Error(`PUT ${url} answered ${a.status}: ${JSON.stringify(a.body).slice(0, 200)}`);
}

async function post(url: string, body: unknown): Promise<void> {
  const a = await call(url, { body });
  if (a.status !== 200) throw new Error(`POST ${url} answered ${a.status}: ${JSON.stringify(a.body).slice(0, 200)}`);
}

let killRestart: Promise<void> | undefined;
let probeOrder: ClientOrder | undefined;

export const FAULTS: Fault[] = [
  {
    name: 'SIGKILL instance',
    what: 'instance A is SIGKILLed under load and restarted at once; the front sends traffic to B meanwhile',
    rtoFrom: 'inject',
    inject: async (d) => {
      await d.instances[0]!.kill();
      killRestart = d.instances[0]!.restart();
      killRestart.catch(() => undefined);
    },
    clear: async () => {},
    // The front notices the dead instance within a health check or a refused connection; only requests in flight on it may fail.
    promise: { kinds: ['read', 'topup'], graceMs: 1_000, why: 'traffic continues on the other instance' },
    recovered: everyInstanceFresh,
  },
  {
    name: 'PostgreSQL restart',
    what: 'the shared PostgreSQL is stopped in immediate mode (a crash: WAL recovery on start), kept down, and started again',
    rtoFrom: 'clear',
    inject: async (d) => d.pg.stop('immediate'),
    clear: async (d) => d.pg.start(),
    recovered: everyInstanceFresh,
  },
  {
    name: 'core timeouts',
    what: `the external core (sandbox, HTTP adapter) answers every request after ${CORE_SLOW_DELAY_MS} ms, past the adapter's attempt timeout; then normal again`,
    rtoFrom: 'clear',
    inject: (d) => post(`${d.sandboxUrl}/sandbox/api/core/faults`, { mode: 'slow', delayMs: CORE_SLOW_DELAY_MS }),
    clear: (d) => post(`${d.sandboxUrl}/sandbox/api/core/faults`, { mode: 'none' }),
    promise: { kinds: ['read'], graceMs: 0, why: 'balances are answered from the kept value (stale) while the core does not answer (DESIGN.md)' },
    recovered: everyInstanceFresh,
  },
  {
    name: 'Redis down',
    what: 'the private Redis is SIGKILLed (rate limits fall back to each instance), kept down, and started again empty',
    rtoFrom: 'clear',
    inject: (d) => d.redis.kill(),
    clear: (d) => d.redis.start(),
    promise: { kinds: ['read', 'topup'], graceMs: 0, why: 'rate limits fall back to each instance; Redis is never needed to serve' },
    recovered: everyInstanceFresh,
  },
  {
    name: 'WeChat Pay 500s',
    what: `the sandbox Pay answers every API call of the operator's merchant with HTTP 500 and sends each notification ${1 + PAY_FAULT_DUPLICATES} times; then normal again`,
    rtoFrom: 'clear',
    inject: async (d) => {
      await put(`${d.sandboxUrl}/sandbox/api/pay/tenants/${TOPUP_TENANT}/faults`, { apiFailStatus: 500, apiFailCount: 1_000, notifyDuplicates: PAY_FAULT_DUPLICATES });
      // Placed during the fault (WeChat refuses it); recovery is its replay with the same key succeeding.
      probeOrder = d.traffic.newOrder(d.probePayer);
      await d.traffic.advance(probeOrder);
    },
    clear: (d) => put(`${d.sandboxUrl}/sandbox/api/pay/tenants/${TOPUP_TENANT}/faults`, { apiFailStatus: null, apiFailCount: 0, notifyDuplicates: 0 }),
    promise: { kinds: ['read'], graceMs: 0, why: 'balances do not depend on WeChat Pay' },
    // Served again: the probe order (created during the fault, refused by WeChat then) gets its payment parameters.
    recovered: async (d) => {
      const o = probeOrder!;
      if (!o.prepayId) await d.traffic.advance(o);
      return o.prepayId !== undefined && (await everyInstanceFresh(d));
    },
  },
];

/**
 * Orders placed (not paid) by the burst payers: paid all at once just before the fault, so the
 * cashier's notifications are in flight when it lands (an instance dies mid-transaction or before
 * its answer, the database goes away under them).
 */
export async function armBurst(d: Deployment): Promise<ClientOrder[]> {
  const orders = d.burstPayers.map((p) => d.traffic.newOrder(p));
  await Promise.all(orders.map((o) => d.traffic.place(o)));
  return orders.filter((o) => o.prepayId !== undefined);
}

/** The restart started by the SIGKILL fault, if any (awaited before the checks). */
export function pendingRestart(): Promise<void> | undefined {
  return killRestart;
}
