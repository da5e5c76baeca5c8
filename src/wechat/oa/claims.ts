// Coalesces the OA de-duplication claims and outcomes of one event-loop turn into one statement (one commit) per batch.
import { sql } from 'kysely';
import type { Db } from '../../db/tx.ts';
import type { OaMessageState } from '../oa.table.ts';
import type { Claim } from './store.ts';

/** Claims (and, separately, outcomes) per statement: bounds the array parameters and one round trip. */
export const OA_CLAIM_BATCH_MAX = 200;
/**
 * Statements of one instance in flight at once. While they are busy new work waits and joins the
 * next batch, so batches grow with load (group commit) instead of statements piling up.
 */
export const OA_CLAIM_STATEMENTS_IN_FLIGHT = 4;

interface Waiter<T> {
  resolve(v: T): void;
  reject(err: unknown): void;
}

interface ClaimOp {
  tenantId: string;
  dedupKey: string;
  at: Date;
  waiters: Waiter<Claim>[];
}

interface FinishOp extends Waiter<void> {
  tenantId: string;
  dedupKey: string;
  state: 'replied' | 'failed';
  reply: string | null;
  at: Date;
}

interface Row {
  ord: string | number;
  fresh: boolean;
  state: OaMessageState | null;
  reply: string | null;
}

/** A repeat of a key already in the batch: it lost to the first, which is being worked on (or was done). */
function follower(first: Claim): Claim {
  return first.fresh ? { fresh: false, state: 'processing', reply: null } : first;
}

/**
 * Every push costs a claim before its handler and an outcome after it. Under load each of those
 * as its own statement is a commit (a WAL flush) per push; pushes arriving in the same event-loop
 * turn instead share one statement: outcomes are written by an `update … from unnest(…)`, claims
 * by an `insert … select from unnest(…) on conflict do nothing`, and the rows that lost read back
 * in the same statement. Semantics are those of one statement per push: the insert decides the
 * winner across instances, and a caller learns its outcome only once it is committed.
 */
export class ClaimBatcher {
  #claims = new Map<string, ClaimOp>();
  #finishes: FinishOp[] = [];
  #scheduled = false;
  #inFlight = 0;

  constructor(private readonly db: Db) {}

  claim(tenantId: string, dedupKey: string, at: Date): Promise<Claim> {
    return new Promise((resolve, reject) => {
      const id = `${tenantId}\u0000${dedupKey}`;
      const op = this.#claims.get(id);
      if (op) op.waiters.push({ resolve, reject });
      else this.#claims.set(id, { tenantId, dedupKey, at, waiters: [{ resolve, reject }] });
      this.#schedule();
    });
  }

  finish(tenantId: string, dedupKey: string, outcome: { state: 'replied' | 'failed'; reply: string | null; now: Date }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#finishes.push({ tenantId, dedupKey, state: outcome.state, reply: outcome.reply, at: outcome.now, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= OA_CLAIM_STATEMENTS_IN_FLIGHT) return;
    if (this.#claims.size === 0 && this.#finishes.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#inFlight < OA_CLAIM_STATEMENTS_IN_FLIGHT && (this.#claims.size > 0 || this.#finishes.length > 0)) {
      const claims: ClaimOp[] = [];
      for (const [id, op] of this.#claims) {
        if (claims.length === OA_CLAIM_BATCH_MAX) break;
        claims.push(op);
        this.#claims.delete(id);
      }
      const finishes = this.#finishes.splice(0, OA_CLAIM_BATCH_MAX);
      this.#inFlight++;
      void this.#run(claims, finishes).finally(() => {
        this.#inFlight--;
        this.#schedule();
      });
    }
  }

  async #run(claims: ClaimOp[], finishes: FinishOp[]): Promise<void> {
    let rows: Row[];
    try {
      // One statement text whatever the batch holds (empty arrays unnest to nothing), so it stays one prepared statement.
      const r = await sql<Row>`
        with fin as (
          update oa_messages m set state = f.state, reply = f.reply, finished_at = f.at
          from unnest(${finishes.map((f) => f.tenantId)}::text[], ${finishes.map((f) => f.dedupKey)}::text[], ${finishes.map((f) => f.state)}::text[],
                      ${finishes.map((f) => f.reply)}::text[], ${finishes.map((f) => f.at.toISOString())}::timestamptz[]) as f(tenant_id, dedup_key, state, reply, at)
          where m.tenant_id = f.tenant_id and m.dedup_key = f.dedup_key
        ), ins as (
          insert into oa_messages (tenant_id, dedup_key, state, received_at)
          select c.tenant_id, c.dedup_key, 'processing', c.at
          from unnest(${claims.map((c) => c.tenantId)}::text[], ${claims.map((c) => c.dedupKey)}::text[], ${claims.map((c) => c.at.toISOString())}::timestamptz[]) as c(tenant_id, dedup_key, at)
          on conflict do nothing
          returning tenant_id, dedup_key
        )
        select c.ord, i.dedup_key is not null as fresh, m.state, m.reply
        from unnest(${claims.map((c) => c.tenantId)}::text[], ${claims.map((c) => c.dedupKey)}::text[]) with ordinality as c(tenant_id, dedup_key, ord)
        left join ins i on i.tenant_id = c.tenant_id and i.dedup_key = c.dedup_key
        left join oa_messages m on i.dedup_key is null and m.tenant_id = c.tenant_id and m.dedup_key = c.dedup_key`.execute(this.db);
      rows = r.rows;
    } catch (err) {
      for (const f of finishes) f.reject(err);
      for (const c of claims) for (const w of c.waiters) w.reject(err);
      return;
    }
    for (const f of finishes) f.resolve();
    for (const row of rows) {
      const op = claims[Number(row.ord) - 1]!;
      let first: Claim;
      if (row.fresh) first = { fresh: true };
      else if (row.state !== null) first = { fresh: false, state: row.state, reply: row.reply };
      else {
        try {
          first = await this.#reread(op);
        } catch (err) {
          for (const w of op.waiters) w.reject(err);
          continue;
        }
      }
      op.waiters[0]!.resolve(first);
      for (const w of op.waiters.slice(1)) w.resolve(follower(first));
    }
  }

  /**
   * The winner of this key committed after the statement's snapshot was taken: the insert waited
   * for it and stood back, but the read in the same statement could not see it. A new read does.
   */
  async #reread(op: ClaimOp): Promise<Claim> {
    const again = await this.db.selectFrom('oa_messages').select(['state', 'reply']).where('tenant_id', '=', op.tenantId).where('dedup_key', '=', op.dedupKey).executeTakeFirst();
    if (!again) throw new Error('an OA message claim vanished between conflict and read');
    return { fresh: false, state: again.state, reply: again.reply };
  }
}
