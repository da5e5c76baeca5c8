// Coalesces concurrent balance reads made outside a transaction into one query per event-loop turn.
import { sql } from 'kysely';
import type { Db } from '../db/tx.ts';
import { totalsOf, type Totals } from './model.ts';

/** Ids per batched query: bounds the array parameter and the rows of one round trip. */
export const BALANCE_READ_BATCH_MAX = 100;

type Found = { currency: string; totals: Totals } | undefined;

interface Waiter {
  resolve(found: Found): void;
  reject(err: unknown): void;
}

/**
 * Balance reads are the hottest path (every balance, overview and OA 余额 answer) and each is one
 * primary-key row; on a busy instance the round trip, not the row, is the cost. Reads that arrive
 * in the same event-loop turn are answered by one `id = any($1)` query. Each caller still sees
 * what was committed when its read was issued or later, exactly as with its own query; reads in a
 * transaction never come here (they must see that transaction's writes and locks).
 */
class TotalsBatcher {
  private waiting = new Map<string, Waiter[]>();
  private scheduled = false;

  constructor(private readonly db: Db) {}

  read(id: string): Promise<Found> {
    return new Promise<Found>((resolve, reject) => {
      const list = this.waiting.get(id);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(id, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = new Map();
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += BALANCE_READ_BATCH_MAX) {
      void this.run(ids.slice(i, i + BALANCE_READ_BATCH_MAX), batch);
    }
  }

  private async run(ids: string[], batch: Map<string, Waiter[]>): Promise<void> {
    try {
      // One statement text whatever the batch size, so it stays one prepared statement.
      const rows = await this.db
        .selectFrom('ledger_accounts')
        .select(['id', 'currency', 'posted_debits_fen', 'posted_credits_fen', 'pending_debits_fen', 'pending_credits_fen'])
        .where(sql<boolean>`id = any(${ids}::text[])`)
        .execute();
      const byId = new Map(rows.map((r) => [r.id, { currency: r.currency, totals: totalsOf(r) }]));
      for (const id of ids) for (const w of batch.get(id)!) w.resolve(byId.get(id));
    } catch (err) {
      for (const id of ids) for (const w of batch.get(id)!) w.reject(err);
    }
  }
}

const batchers = new WeakMap<Db, TotalsBatcher>();

/** The cached totals of an account, read together with the other reads of this turn on `db`. */
export function readTotalsBatched(db: Db, id: string): Promise<Found> {
  let b = batchers.get(db);
  if (!b) {
    b = new TotalsBatcher(db);
    batchers.set(db, b);
  }
  return b.read(id);
}
