// The hash chain as pure functions: canonical row bytes, row hashes, and the walker that finds tampering in sealed rows.
import { createHash } from 'node:crypto';

/** Bumped only with a migration that re-seals: the version is part of every hashed row. */
export const AUDIT_HASH_VERSION = 'wecard.audit.v1';

/** An audit row as the sealer and the verifier read it; timestamps as exact UTC text with microseconds. */
export interface HashedRow {
  seq: bigint;
  tenantId: string;
  recordedAt: string;
  at: string;
  actorKind: string;
  actorId: string;
  action: string;
  subjectKind: string | null;
  subjectId: string | null;
  outcome: string;
  detail: string | null;
  ip: string | null;
  deviceId: string | null;
  requestId: string | null;
}

export interface ChainLink {
  tenantId: string;
  prevSeq: bigint | null;
  prevHash: string;
  hash: string;
}

/**
 * Where each tenant's chain starts: bound to the tenant, so one tenant's rows cannot be passed
 * off as the start of another's chain.
 */
export function genesisHash(tenantId: string): string {
  return createHash('sha256').update(`${AUDIT_HASH_VERSION}\ngenesis\n${tenantId}`, 'utf8').digest('hex');
}

/** The row's bytes as hashed: a JSON array of every column in a fixed order, the chain link included. */
export function canonicalRow(row: HashedRow, prevSeq: bigint | null): string {
  return JSON.stringify([
    AUDIT_HASH_VERSION,
    row.seq.toString(),
    prevSeq === null ? null : prevSeq.toString(),
    row.tenantId,
    row.recordedAt,
    row.at,
    row.actorKind,
    row.actorId,
    row.action,
    row.subjectKind,
    row.subjectId,
    row.outcome,
    row.detail,
    row.ip,
    row.deviceId,
    row.requestId,
  ]);
}

/** SHA-256(prev_hash ‖ canonical row), hex. */
export function rowHash(prevHash: string, row: HashedRow, prevSeq: bigint | null): string {
  return createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(canonicalRow(row, prevSeq), 'utf8').digest('hex');
}

export type AuditProblemKind =
  | 'modified'
  | 'deleted'
  | 'inserted_behind_seal'
  | 'broken_link'
  | 'checkpoint_mismatch'
  | 'anchor_mismatch';

export interface AuditProblem {
  seq: string;
  kind: AuditProblemKind;
  problem: string;
}

/** A tenant's chain head: after a checkpoint, an external anchor, or the walk so far. */
export interface ChainHead {
  tenantId: string;
  seq: bigint;
  hash: string;
  rowsTotal: bigint;
}

interface TenantState {
  seq: bigint | null;
  hash: string;
  count: bigint;
  /** A deletion was already reported since the last checkpoint, which explains a short count there. */
  deletionReported: boolean;
}

/**
 * Walks sealed rows in seq order, interleaved with checkpoints (fed before any row with a larger
 * seq), keeping one small state per tenant. Each tampering is reported once where it is seen,
 * then the walk re-synchronises so later rows are judged on their own.
 */
export class ChainWalker {
  readonly problems: AuditProblem[] = [];
  checked = 0;
  private readonly states = new Map<string, TenantState>();

  /**
   * @param onlyTenant set when the walk reads one tenant's rows: a row sealed into another
   *   tenant's chain (moved here) is then checked for its hash only, since that chain is not walked.
   */
  constructor(
    private readonly maxProblems: number,
    start: Iterable<ChainHead> = [],
    private readonly onlyTenant?: string,
  ) {
    for (const h of start) this.states.set(h.tenantId, { seq: h.seq, hash: h.hash, count: h.rowsTotal, deletionReported: false });
  }

  get full(): boolean {
    return this.problems.length >= this.maxProblems;
  }

  report(seq: bigint | string, kind: AuditProblemKind, problem: string): void {
    if (!this.full) this.problems.push({ seq: seq.toString(), kind, problem });
  }

  private state(tenantId: string): TenantState {
    let st = this.states.get(tenantId);
    if (!st) {
      st = { seq: null, hash: genesisHash(tenantId), count: 0n, deletionReported: false };
      this.states.set(tenantId, st);
    }
    return st;
  }

  /** Each tenant's head as the walk left it (tenants with at least one row or a starting checkpoint). */
  heads(): ChainHead[] {
    const out: ChainHead[] = [];
    for (const [tenantId, st] of this.states) if (st.seq !== null) out.push({ tenantId, seq: st.seq, hash: st.hash, rowsTotal: st.count });
    return out.sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0));
  }

  /** A row at or below the sealed frontier, with its chain link (null when it was never sealed). */
  row(row: HashedRow, link: ChainLink | null): void {
    if (!link) {
      this.report(row.seq, 'inserted_behind_seal', `row ${row.seq} sits below the sealed frontier but was never sealed: inserted behind the seal`);
      return;
    }
    this.checked++;
    if (rowHash(link.prevHash, row, link.prevSeq) !== link.hash) {
      this.report(row.seq, 'modified', `row ${row.seq} no longer matches its sealed hash: modified after sealing`);
    }
    // The chain's own tenant decides which chain the row belongs to, so a row moved to another
    // tenant is one modified row, not a hole in one chain and a stranger in another.
    if (this.onlyTenant !== undefined && link.tenantId !== this.onlyTenant) return;
    const st = this.state(link.tenantId);
    if (link.prevSeq !== st.seq) {
      if (link.prevSeq !== null && (st.seq === null || link.prevSeq > st.seq)) {
        this.report(link.prevSeq, 'deleted', `row ${link.prevSeq} of tenant ${link.tenantId}'s chain is missing (row ${row.seq} links to it): deleted`);
        st.deletionReported = true;
      } else {
        this.report(row.seq, 'broken_link', `row ${row.seq} links to ${link.prevSeq ?? 'the chain start'}, but the previous row of the chain is ${st.seq ?? 'the chain start'}`);
      }
    } else if (link.prevHash !== st.hash) {
      this.report(row.seq, 'broken_link', `row ${row.seq} recorded another hash for row ${st.seq ?? 'the chain start'} than that row now has: the earlier row was re-sealed`);
    }
    st.seq = row.seq;
    st.hash = link.hash;
    st.count++;
  }

  /** A checkpoint or anchor: the tenant's chain must end exactly there, with that hash (and count, when known). */
  checkpoint(cp: { tenantId: string; headSeq: bigint; headHash: string; rowsTotal?: bigint }, what: 'checkpoint' | 'anchor' = 'checkpoint'): void {
    const st = this.state(cp.tenantId);
    if (st.seq === null || st.seq < cp.headSeq) {
      this.report(cp.headSeq, 'deleted', `the ${what} names row ${cp.headSeq} as tenant ${cp.tenantId}'s chain head, but the row is missing: deleted`);
      st.seq = cp.headSeq;
      st.hash = cp.headHash;
    } else if (st.seq > cp.headSeq) {
      this.report(cp.headSeq, 'broken_link', `the ${what} at row ${cp.headSeq} is behind tenant ${cp.tenantId}'s chain (at ${st.seq})`);
    } else if (st.hash !== cp.headHash) {
      this.report(cp.headSeq, what === 'anchor' ? 'anchor_mismatch' : 'checkpoint_mismatch', `row ${cp.headSeq} has another hash than the ${what} recorded: the chain was re-sealed`);
    } else if (cp.rowsTotal !== undefined && st.count !== cp.rowsTotal && !st.deletionReported) {
      const kind = st.count < cp.rowsTotal ? 'deleted' : 'broken_link';
      this.report(cp.headSeq, kind, `tenant ${cp.tenantId}'s chain has ${st.count} rows up to row ${cp.headSeq}, the checkpoint recorded ${cp.rowsTotal}`);
    }
    if (cp.rowsTotal !== undefined) {
      st.count = cp.rowsTotal;
      st.deletionReported = false;
    }
  }
}
