// The sealer: chains committed audit rows in seq order, in bounded batches, and writes a checkpoint per tenant per batch.
import { sql } from 'kysely';
import type { Db, Tx } from '../db/tx.ts';
import { inTx } from '../db/tx.ts';
import { genesisHash, rowHash, type ChainHead } from './chain.ts';
import { checkpointHeads, hashedColumns, int8, sealedFrontier, toHashedRow, type HashedColumns } from './store.ts';

/**
 * Rows younger than this (by the database clock) are not sealed yet. A row's seq is drawn when
 * its INSERT runs but it becomes visible when its transaction commits, so a lower seq can show up
 * after a higher one. Sealing only through a row older than the margin means any lower seq still
 * invisible belongs to a transaction open for longer than the margin; such a row is then found
 * below the frontier unsealed and reported as inserted behind the seal (never silently skipped).
 */
export const AUDIT_SEAL_MARGIN_MS = 30_000;
/** Rows sealed per transaction. */
export const AUDIT_SEAL_BATCH_ROWS = 5_000;
/** Batches one sealAudit call runs before it yields (the job runs again on its next tick). */
export const AUDIT_SEAL_MAX_BATCHES = 40;
/** Chain rows per INSERT statement (5 parameters each, well under PostgreSQL's 65,535). */
const CHAIN_INSERT_CHUNK = 1_000;

export interface SealOptions {
  /** Recorded on the checkpoints as the seal time. */
  now: Date;
  /** Safety margin on the database clock; tests that know no writer is in flight pass 0. */
  marginMs?: number;
  batchRows?: number;
  maxBatches?: number;
}

export interface SealResult {
  sealed: number;
  batches: number;
  /** The frontier after this call (0 when nothing was ever sealed). */
  sealedThrough: bigint;
}

/**
 * Seals what is ripe. One global seq order, one chain per tenant (see index.ts for why). Sealers
 * on several instances take turns on a table lock that only sealers take: audit writers insert
 * into another table and never wait for it, and readers (verify) are not blocked.
 */
export async function sealAudit(ctx: { db: Db }, opts: SealOptions): Promise<SealResult> {
  const marginMs = Math.max(0, Math.floor(opts.marginMs ?? AUDIT_SEAL_MARGIN_MS));
  const batchRows = Math.min(Math.max(1, opts.batchRows ?? AUDIT_SEAL_BATCH_ROWS), AUDIT_SEAL_BATCH_ROWS);
  const maxBatches = Math.min(Math.max(1, opts.maxBatches ?? AUDIT_SEAL_MAX_BATCHES), AUDIT_SEAL_MAX_BATCHES);
  let sealed = 0;
  let batches = 0;
  let sealedThrough = 0n;
  while (batches < maxBatches) {
    const r = await inTx(ctx.db, (tx) => sealBatch(tx, { now: opts.now, marginMs, batchRows }));
    sealedThrough = r.sealedThrough;
    if (r.sealed === 0) break;
    sealed += r.sealed;
    batches++;
    if (r.sealed < batchRows) break;
  }
  return { sealed, batches, sealedThrough };
}

async function sealBatch(tx: Tx, o: { now: Date; marginMs: number; batchRows: number }): Promise<{ sealed: number; sealedThrough: bigint }> {
  await sql`lock table audit_checkpoints in exclusive mode`.execute(tx);
  // The chain's own end counts too: with checkpoints deleted (tampering verify reports), the
  // sealer carries on after the last sealed row instead of failing on every run.
  const lastChained = await sql<{ s: bigint | string | number | null }>`select max(seq) as s from audit_chain`.execute(tx);
  const chained = lastChained.rows[0]?.s;
  const checkpointed = await sealedFrontier(tx);
  const frontier = chained !== null && chained !== undefined && int8(chained) > checkpointed ? int8(chained) : checkpointed;
  const rows = (await tx
    .selectFrom('audit_log as l')
    .select([...hashedColumns(), sql<boolean>`l.recorded_at <= clock_timestamp() - ${o.marginMs}::int * interval '1 millisecond'`.as('ripe')])
    .where('l.seq', '>', frontier)
    .orderBy('l.seq')
    .limit(o.batchRows)
    .execute()) as (HashedColumns & { ripe: boolean })[];
  // Seal through the last ripe row, and every row before it whatever its own time: the clock is
  // read just after the seq is drawn, so two concurrent inserts can disagree by microseconds.
  let cut = -1;
  for (let i = rows.length - 1; i >= 0; i--) {
    if (rows[i]!.ripe) {
      cut = i;
      break;
    }
  }
  if (cut < 0) return { sealed: 0, sealedThrough: frontier };
  const batch = rows.slice(0, cut + 1).map(toHashedRow);
  const first = batch[0]!.seq;
  const last = batch[batch.length - 1]!.seq;

  const tenants = [...new Set(batch.map((r) => r.tenantId))];
  const heads = await checkpointHeads(tx, tenants);
  const state = new Map<string, { seq: bigint | null; hash: string; rowsTotal: bigint; rows: number }>();
  for (const t of tenants) {
    const h: ChainHead | undefined = heads.get(t);
    state.set(t, h ? { seq: h.seq, hash: h.hash, rowsTotal: h.rowsTotal, rows: 0 } : { seq: null, hash: genesisHash(t), rowsTotal: 0n, rows: 0 });
  }
  const links: { seq: bigint; tenant_id: string; prev_seq: bigint | null; prev_hash: string; hash: string }[] = [];
  for (const row of batch) {
    const st = state.get(row.tenantId)!;
    const hash = rowHash(st.hash, row, st.seq);
    links.push({ seq: row.seq, tenant_id: row.tenantId, prev_seq: st.seq, prev_hash: st.hash, hash });
    st.seq = row.seq;
    st.hash = hash;
    st.rowsTotal++;
    st.rows++;
  }
  for (let i = 0; i < links.length; i += CHAIN_INSERT_CHUNK) {
    await tx.insertInto('audit_chain').values(links.slice(i, i + CHAIN_INSERT_CHUNK)).execute();
  }
  await tx
    .insertInto('audit_checkpoints')
    .values(
      [...state].map(([tenantId, st]) => ({
        tenant_id: tenantId,
        batch_first_seq: first,
        batch_last_seq: last,
        rows: st.rows,
        rows_total: st.rowsTotal,
        head_seq: st.seq!,
        head_hash: st.hash,
        sealed_at: o.now,
      })),
    )
    .execute();
  return { sealed: batch.length, sealedThrough: last };
}
