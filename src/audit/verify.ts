// Verifying the audit chain: recomputes every sealed row's hash, follows the links and checkpoints, checks external anchors.
import { sql } from 'kysely';
import type { Db } from '../db/tx.ts';
import { ChainWalker, type AuditProblem, type ChainHead } from './chain.ts';
import { checkpointHeads, hashedColumns, int8, toHashedRow, type HashedColumns } from './store.ts';

/** Problems reported before the walk stops (the first ones say where to look). */
export const AUDIT_VERIFY_MAX_PROBLEMS = 100;
const AUDIT_VERIFY_PROBLEMS_CAP = 1_000;
/** Rows (and checkpoints) read per query; memory stays bounded whatever the log's size. */
export const AUDIT_VERIFY_PAGE_ROWS = 5_000;
/** External anchors checked per call. */
export const AUDIT_VERIFY_MAX_ANCHORS = 1_000;
/** Unsealed rows counted past the frontier before the count says "at least". */
const PENDING_COUNT_CAP = 1_000_000;

/** A chain head an operator copied out of the database (from a checkpoint or `audit:verify`'s output). */
export interface AuditAnchor {
  tenantId: string;
  seq: bigint | string;
  hash: string;
}

export interface VerifyOptions {
  tenantId?: string;
  /**
   * Incremental: verify only rows after the last seal batch ending at or before this seq, each
   * tenant's chain resuming from its checkpoint there (trusted: verified before, or anchored).
   */
  afterSeq?: bigint | string;
  /** Heads recorded outside the database: the chain must still pass through each with that hash. */
  anchors?: AuditAnchor[];
  maxProblems?: number;
}

export interface VerifyResult {
  ok: boolean;
  /** Sealed rows whose hash was recomputed. */
  checked: number;
  problems: AuditProblem[];
  /** The walk stopped at maxProblems. */
  truncated: boolean;
  sealedThrough: string;
  /** Rows past the frontier, not sealed yet (normal for up to a seal interval plus the margin). */
  pending: number;
  /** Each tenant's chain head after the walk: what to anchor externally. */
  heads: { tenantId: string; seq: string; hash: string }[];
}

interface WalkRow extends HashedColumns {
  c_seq: bigint | null;
  c_tenant_id: string | null;
  c_prev_seq: bigint | null;
  c_prev_hash: string | null;
  c_hash: string | null;
}

interface CheckpointRow {
  tenant_id: string;
  head_seq: bigint;
  head_hash: string;
  rows_total: bigint;
}

/** Every tenant with a checkpoint, by a skip scan of the (tenant_id, head_seq) index. */
async function checkpointTenants(db: Db): Promise<string[]> {
  const r = await sql<{ tenant_id: string }>`
    with recursive t(tenant_id) as (
      (select tenant_id from audit_checkpoints order by tenant_id limit 1)
      union all
      select (select c.tenant_id from audit_checkpoints c where c.tenant_id > t.tenant_id order by c.tenant_id limit 1)
      from t where t.tenant_id is not null
    )
    select tenant_id from t where tenant_id is not null`.execute(db);
  return r.rows.map((x) => x.tenant_id);
}

/** Pages checkpoints in head_seq order so the walk can feed each before the first row past it. */
class CheckpointStream {
  private buf: CheckpointRow[] = [];
  private after: bigint;
  private done = false;

  constructor(
    private readonly db: Db,
    from: bigint,
    private readonly through: bigint,
    private readonly tenantId: string | undefined,
  ) {
    this.after = from;
  }

  async peek(): Promise<CheckpointRow | undefined> {
    if (this.buf.length === 0 && !this.done) {
      let q = this.db
        .selectFrom('audit_checkpoints')
        .select(['tenant_id', 'head_seq', 'head_hash', 'rows_total'])
        .where('head_seq', '>', this.after)
        .where('head_seq', '<=', this.through)
        .orderBy('head_seq')
        .limit(AUDIT_VERIFY_PAGE_ROWS);
      if (this.tenantId !== undefined) q = q.where('tenant_id', '=', this.tenantId);
      this.buf = (await q.execute()) as CheckpointRow[];
      if (this.buf.length < AUDIT_VERIFY_PAGE_ROWS) this.done = true;
      if (this.buf.length > 0) this.after = int8(this.buf[this.buf.length - 1]!.head_seq);
    }
    return this.buf[0];
  }

  shift(): void {
    this.buf.shift();
  }
}

/**
 * Recomputes every sealed row's hash in seq order and reports, bounded: rows modified after
 * sealing, rows deleted (a link or checkpoint names a row that is gone; sequence values of
 * rolled-back transactions are never linked, so they are not holes), rows inserted behind the
 * seal, links that do not join, checkpoints the chain no longer ends at, and anchors it no longer
 * passes through.
 */
export async function verifyAuditChain(db: Db, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const maxProblems = Math.min(Math.max(1, opts.maxProblems ?? AUDIT_VERIFY_MAX_PROBLEMS), AUDIT_VERIFY_PROBLEMS_CAP);
  const tenant = opts.tenantId;

  // Frontier and any chain row past it in one statement (one snapshot): a chain row beyond the
  // last checkpoint means checkpoints were deleted, not that a sealer is mid-batch.
  const fr = await sql<{ f: bigint | string; orphan: bigint | string | null }>`
    select x.f, (select min(c.seq) from audit_chain c where c.seq > x.f and (${tenant ?? null}::text is null or c.tenant_id = ${tenant ?? null}::text)) as orphan
    from (select coalesce(max(batch_last_seq), 0) as f from audit_checkpoints) x`.execute(db);
  const frontier = int8(fr.rows[0]!.f);
  const orphan = fr.rows[0]!.orphan;

  let from = 0n;
  let start: Iterable<ChainHead> = [];
  if (opts.afterSeq !== undefined) {
    const after = int8(opts.afterSeq);
    const b = await sql<{ b: bigint | string | null }>`select max(batch_last_seq) as b from audit_checkpoints where batch_last_seq <= ${after}`.execute(db);
    from = b.rows[0]?.b === null || b.rows[0]?.b === undefined ? 0n : int8(b.rows[0].b);
    if (from > 0n) start = (await checkpointHeads(db, tenant !== undefined ? [tenant] : await checkpointTenants(db), from)).values();
  }

  const walker = new ChainWalker(maxProblems, start, tenant);
  if (orphan !== null) walker.report(orphan, 'deleted', `row ${orphan} is sealed past the last checkpoint (${frontier}): checkpoints were deleted`);

  const checkpoints = new CheckpointStream(db, from, frontier, tenant);
  let after = from;
  pages: while (!walker.full) {
    let q = db
      .selectFrom('audit_log as l')
      .leftJoin('audit_chain as c', 'c.seq', 'l.seq')
      .select([
        ...hashedColumns(),
        'c.seq as c_seq',
        'c.tenant_id as c_tenant_id',
        'c.prev_seq as c_prev_seq',
        'c.prev_hash as c_prev_hash',
        'c.hash as c_hash',
      ])
      .where('l.seq', '>', after)
      .where('l.seq', '<=', frontier)
      .orderBy('l.seq')
      .limit(AUDIT_VERIFY_PAGE_ROWS);
    if (tenant !== undefined) q = q.where('l.tenant_id', '=', tenant);
    const rows = (await q.execute()) as WalkRow[];
    for (const r of rows) {
      const row = toHashedRow(r);
      for (let cp = await checkpoints.peek(); cp && int8(cp.head_seq) < row.seq; cp = await checkpoints.peek()) {
        walker.checkpoint({ tenantId: cp.tenant_id, headSeq: int8(cp.head_seq), headHash: cp.head_hash, rowsTotal: int8(cp.rows_total) });
        checkpoints.shift();
      }
      walker.row(
        row,
        r.c_seq === null
          ? null
          : { tenantId: r.c_tenant_id!, prevSeq: r.c_prev_seq === null ? null : int8(r.c_prev_seq), prevHash: r.c_prev_hash!, hash: r.c_hash! },
      );
      if (walker.full) break pages;
    }
    if (rows.length < AUDIT_VERIFY_PAGE_ROWS) break;
    after = int8(rows[rows.length - 1]!.seq);
  }
  for (let cp = await checkpoints.peek(); cp && !walker.full; cp = await checkpoints.peek()) {
    walker.checkpoint({ tenantId: cp.tenant_id, headSeq: int8(cp.head_seq), headHash: cp.head_hash, rowsTotal: int8(cp.rows_total) });
    checkpoints.shift();
  }
  const truncated = walker.full;

  await checkAnchors(db, walker, opts.anchors ?? [], frontier, tenant);

  const pendingRows = await sql<{ n: bigint | string | number }>`
    select count(*) as n from (
      select 1 from audit_log where seq > ${frontier} and (${tenant ?? null}::text is null or tenant_id = ${tenant ?? null}::text) limit ${PENDING_COUNT_CAP}
    ) p`.execute(db);

  return {
    ok: walker.problems.length === 0,
    checked: walker.checked,
    problems: walker.problems,
    truncated,
    sealedThrough: frontier.toString(),
    pending: Number(pendingRows.rows[0]?.n ?? 0),
    heads: walker.heads().map((h) => ({ tenantId: h.tenantId, seq: h.seq.toString(), hash: h.hash })),
  };
}

/**
 * An anchor is checked against the row itself, so it holds even for an incremental walk that
 * starts after it. The walk has proven the chain up to each row consistent; the anchor proves the
 * chain is the one the operator saw (a rewrite of everything, checkpoints included, changes it).
 */
async function checkAnchors(db: Db, walker: ChainWalker, anchors: AuditAnchor[], frontier: bigint, tenant: string | undefined): Promise<void> {
  if (anchors.length > AUDIT_VERIFY_MAX_ANCHORS) throw new Error(`at most ${AUDIT_VERIFY_MAX_ANCHORS} anchors per verification`);
  for (const a of anchors) {
    if (tenant !== undefined && a.tenantId !== tenant) continue;
    const seq = int8(a.seq);
    const r = await db
      .selectFrom('audit_chain as c')
      .innerJoin('audit_log as l', 'l.seq', 'c.seq')
      .select(['c.tenant_id', 'c.hash', 'l.tenant_id as log_tenant'])
      .where('c.seq', '=', seq)
      .executeTakeFirst();
    if (!r) {
      walker.report(seq, 'deleted', seq > frontier ? `anchored row ${seq} is past the sealed frontier (${frontier}): the chain's tail was removed` : `anchored row ${seq} is missing: deleted`);
    } else if (r.tenant_id !== a.tenantId || r.log_tenant !== a.tenantId) {
      walker.report(seq, 'anchor_mismatch', `anchored row ${seq} belongs to another tenant than the anchor says`);
    } else if (r.hash !== a.hash.toLowerCase()) {
      walker.report(seq, 'anchor_mismatch', `row ${seq} has another hash than the anchor recorded: the chain was re-sealed`);
    }
  }
}
