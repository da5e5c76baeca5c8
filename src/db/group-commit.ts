// Group commit: per-request writes gathered while earlier ones commit, applied in one transaction, each caller answered after the commit.
import { AppError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from './tx.ts';

/** Items one transaction carries: bounds its duration and the row locks it holds. */
export const GROUP_COMMIT_MAX_ITEMS = 64;
/** Transactions in flight at once: the rest of the pool stays free for reads. */
export const GROUP_COMMIT_MAX_INFLIGHT = 4;
/** Items waiting beyond this are refused at once (service_paused) rather than queued without end. */
export const GROUP_COMMIT_MAX_QUEUED = 10_000;

export type Outcome<R> = { ok: true; value: R } | { ok: false; error: AppError };

interface Pending<I, R> {
  item: I;
  resolve(value: R): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions<I, R> {
  /**
   * Applies one item in the batch's transaction. An AppError it throws is that item's answer and
   * must leave the transaction usable (no failed statement before it); any other error aborts the
   * whole batch, and every item of it gets that error.
   */
  apply(tx: Tx, item: I): Promise<R>;
  /** Applies a whole batch at once (multi-row statements), one outcome per item in order; default: `apply` per item. */
  applyBatch?(tx: Tx, items: I[]): Promise<Outcome<R>[]>;
  /** Items are applied in this order (lock order: two batches never take the same rows in opposite orders). */
  lockKey(item: I): string;
  /**
   * When a batch of several items fails as a whole, run each of them again in a transaction of its
   * own, so one bad item costs only its own answer (default: every item of the batch gets the error).
   */
  isolateFailures?: boolean;
  maxItems?: number;
  maxInflight?: number;
  maxQueued?: number;
}

/**
 * The classic group commit: while a transaction is committing, new items queue; when a slot is
 * free, the queue (up to maxItems) becomes the next transaction. Under load one commit serves
 * dozens of requests; when idle an item waits one event-loop turn. A caller's promise settles only
 * after its transaction committed (or failed), so nothing acknowledged is lost. Deadlocks and
 * serialisation failures are retried by inTx, re-applying the whole batch.
 */
export class GroupCommit<I, R> {
  private queue: Pending<I, R>[] = [];
  private inflight = 0;
  private scheduled = false;
  private readonly maxItems: number;
  private readonly maxInflight: number;
  private readonly maxQueued: number;

  constructor(
    private readonly db: Db,
    private readonly opts: GroupCommitOptions<I, R>,
  ) {
    this.maxItems = opts.maxItems ?? GROUP_COMMIT_MAX_ITEMS;
    this.maxInflight = opts.maxInflight ?? GROUP_COMMIT_MAX_INFLIGHT;
    this.maxQueued = opts.maxQueued ?? GROUP_COMMIT_MAX_QUEUED;
  }

  submit(item: I): Promise<R> {
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(new AppError('service_paused', 'too many requests are waiting to be recorded; try again shortly', { retryAfter: 1 }));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // One turn's worth of requests join the first batch, not one request each.
        setImmediate(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  private drain(): void {
    while (this.inflight < this.maxInflight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxItems);
      this.inflight++;
      void this.run(batch).finally(() => {
        this.inflight--;
        if (this.queue.length > 0 && !this.scheduled) this.drain();
      });
    }
  }

  private async run(batch: Pending<I, R>[]): Promise<void> {
    const ordered = batch
      .map((p) => ({ p, key: this.opts.lockKey(p.item) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((x) => x.p);
    let outcomes: Outcome<R>[];
    try {
      outcomes = await inTx(this.db, async (tx) => {
        if (this.opts.applyBatch) return this.opts.applyBatch(tx, ordered.map((p) => p.item));
        const out: Outcome<R>[] = [];
        for (const p of ordered) {
          try {
            out.push({ ok: true, value: await this.opts.apply(tx, p.item) });
          } catch (err) {
            if (!(err instanceof AppError)) throw err;
            out.push({ ok: false, error: err });
          }
        }
        return out;
      });
    } catch (err) {
      if (this.opts.isolateFailures && ordered.length > 1) {
        for (const p of ordered) await this.run([p]);
        return;
      }
      for (const p of ordered) p.reject(err);
      return;
    }
    ordered.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }
}
