// The chaos run's traffic through the front: cardholders reading balances, and payers placing top-ups (retrying with the same Idempotency-Key, as the API asks) and paying them at the sandbox cashier.
import { randomBytes } from 'node:crypto';
import { authHeaders, call, type Cardholder } from './world.ts';
import { sleep } from './services.ts';

/** Pause of each reader between two balance reads. */
const READ_PAUSE_MS = 150;
/** A payer places at most one new order this often: 10 orders a minute is the API's limit per user (src/topup/orders.ts). */
const ORDER_INTERVAL_MS = 7_000;
/** Pause before a failed step of an order is tried again. */
const RETRY_PAUSE_MS = 1_000;
const PAYER_TICK_MS = 250;
/** Amounts of ¥50–¥80 (the operator's WeChat-balance minimum is ¥50), far under the ¥5,000 card cap over a run. */
const AMOUNT_MIN_FEN = 5_000;
const AMOUNT_STEPS = 31;

export type Kind = 'read' | 'topup' | 'pay';

export interface Outcome {
  /** When the request was sent. */
  at: number;
  kind: Kind;
  ok: boolean;
  status: number;
  /** Balance reads: answered from the kept value because the core could not be asked. */
  stale?: boolean;
}

export interface ClientOrder {
  key: string;
  payer: Cardholder;
  amountFen: number;
  orderId?: string;
  prepayId?: string;
  paid: boolean;
  /** Refused for good (a 4xx other than a retryable one): reported, never retried. */
  refused?: string;
}

export interface Tally {
  ok: number;
  failed: number;
  stale: number;
  /** Failures by HTTP status (0: no answer). */
  failedBy: Record<string, number>;
}

const RETRYABLE = new Set([0, 429, 500, 502, 503, 504]);

export class Traffic {
  readonly outcomes: Outcome[] = [];
  readonly orders: ClientOrder[] = [];
  #running = false;
  #payersPaused = false;
  #loops: Promise<void>[] = [];
  #random: () => number;

  constructor(
    private readonly frontUrl: string,
    private readonly sandboxUrl: string,
    private readonly readers: Cardholder[],
    private readonly payers: Cardholder[],
    random: () => number,
  ) {
    this.#random = random;
  }

  start(): void {
    this.#running = true;
    for (const r of this.readers) this.#loops.push(this.#readLoop(r));
    for (const p of this.payers) this.#loops.push(this.#payLoop(p));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  pausePayers(): void {
    this.#payersPaused = true;
  }

  resumePayers(): void {
    this.#payersPaused = false;
  }

  /** What wecard's clients saw between two instants (pay calls go to WeChat and are counted apart). */
  tally(from: number, to: number, kinds: Kind[]): Tally {
    const t: Tally = { ok: 0, failed: 0, stale: 0, failedBy: {} };
    for (const o of this.outcomes) {
      if (o.at < from || o.at > to || !kinds.includes(o.kind)) continue;
      if (o.ok) t.ok++;
      else {
        t.failed++;
        t.failedBy[o.status] = (t.failedBy[o.status] ?? 0) + 1;
      }
      if (o.stale) t.stale++;
    }
    return t;
  }

  /** One balance read of a cardholder at a base URL (the front, or one instance directly for the probes). */
  async readBalance(base: string, c: Cardholder, record = true): Promise<{ ok: boolean; stale: boolean; status: number }> {
    const at = Date.now();
    const a = await call(`${base}/api/v1/cards/${c.cardId}/balance`, { headers: authHeaders(c) });
    const ok = a.status === 200;
    const stale = ok && a.body?.stale === true;
    if (record) this.outcomes.push({ at, kind: 'read', ok, status: a.status, stale });
    return { ok, stale, status: a.status };
  }

  /** A new order of a payer (not placed yet). */
  newOrder(payer: Cardholder): ClientOrder {
    const o: ClientOrder = { key: `chaos-${randomBytes(8).toString('hex')}`, payer, amountFen: AMOUNT_MIN_FEN + 100 * Math.floor(this.#random() * AMOUNT_STEPS), paid: false };
    this.orders.push(o);
    return o;
  }

  /** Places the order (or replays its key) until WeChat's payment parameters come back. True when they did. */
  async place(o: ClientOrder): Promise<boolean> {
    if (o.prepayId) return true;
    if (o.refused) return false;
    const at = Date.now();
    const a = await call(`${this.frontUrl}/api/v1/topups`, {
      body: { citizenCardNumber: o.payer.person.cardNumber, amount: o.amountFen, method: 'wechat_balance' },
      headers: { ...authHeaders(o.payer), 'idempotency-key': o.key },
    });
    const placed = (a.status === 200 || a.status === 201) && typeof a.body?.payParams?.package === 'string';
    this.outcomes.push({ at, kind: 'topup', ok: placed, status: a.status });
    if (!placed) {
      if (!RETRYABLE.has(a.status)) o.refused = `${a.status} ${JSON.stringify(a.body).slice(0, 200)}`;
      return false;
    }
    o.orderId = a.body.orderId;
    o.prepayId = String(a.body.payParams.package).replace(/^prepay_id=/, '');
    return true;
  }

  /** Pays a placed order at the sandbox cashier (which notifies the front at once). True when paid. */
  async pay(o: ClientOrder): Promise<boolean> {
    if (o.paid) return true;
    if (!o.prepayId) return false;
    const at = Date.now();
    const pay = await call(`${this.sandboxUrl}/sandbox/api/pay/orders/${o.prepayId}/pay`, { body: {} });
    if (pay.status === 200) o.paid = true;
    else {
      // The cashier may have taken the money while its answer was lost: WeChat's order says.
      const state = await call(`${this.sandboxUrl}/sandbox/api/pay/orders/${o.prepayId}`);
      if (state.status === 200 && (state.body?.state === 'SUCCESS' || state.body?.state === 'REFUND')) o.paid = true;
    }
    this.outcomes.push({ at, kind: 'pay', ok: o.paid, status: pay.status });
    return o.paid;
  }

  /** One step of an order: placing it, then paying it. True when the step succeeded. */
  async advance(o: ClientOrder): Promise<boolean> {
    if (o.paid || o.refused) return true;
    return (await this.place(o)) && (await this.pay(o));
  }

  /** Finishes every order not paid yet (the payers paused first), within `deadlineMs`; answers those left. */
  async drain(deadlineMs: number): Promise<ClientOrder[]> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      const open = this.orders.filter((o) => !o.paid && !o.refused);
      if (open.length === 0 || Date.now() > until) return open;
      await Promise.all(open.map((o) => this.advance(o)));
      if (this.orders.some((o) => !o.paid && !o.refused)) await sleep(RETRY_PAUSE_MS);
    }
  }

  async #readLoop(r: Cardholder): Promise<void> {
    // Readers start out of step with each other.
    await sleep(Math.floor(this.#random() * READ_PAUSE_MS));
    while (this.#running) {
      await this.readBalance(this.frontUrl, r);
      await sleep(READ_PAUSE_MS);
    }
  }

  async #payLoop(p: Cardholder): Promise<void> {
    let lastPlaced = Date.now() - Math.floor(this.#random() * ORDER_INTERVAL_MS);
    let current: ClientOrder | undefined;
    while (this.#running) {
      if (this.#payersPaused) {
        await sleep(PAYER_TICK_MS);
        continue;
      }
      if (current && !current.paid && !current.refused) {
        if (!(await this.advance(current))) await sleep(RETRY_PAUSE_MS);
        continue;
      }
      if (Date.now() - lastPlaced >= ORDER_INTERVAL_MS) {
        lastPlaced = Date.now();
        current = this.newOrder(p);
        continue;
      }
      await sleep(PAYER_TICK_MS);
    }
  }
}
