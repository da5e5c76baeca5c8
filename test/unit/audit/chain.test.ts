// The hash chain's pure parts: deterministic row hashes bound to tenant and link, and the walker naming each kind of tampering once.
import { describe, expect, it } from 'vitest';
import { ChainWalker, canonicalRow, genesisHash, rowHash, type ChainLink, type HashedRow } from '../../../src/audit/chain.ts';

function row(seq: number, tenantId = 't1', over: Partial<HashedRow> = {}): HashedRow {
  return {
    seq: BigInt(seq),
    tenantId,
    recordedAt: `2026-01-05T02:00:${String(seq % 60).padStart(2, '0')}.123456Z`,
    at: '2026-01-05T02:00:00.000000Z',
    actorKind: 'cardholder',
    actorId: 'usr_1',
    action: 'balance.read',
    subjectKind: 'card',
    subjectId: 'card_1',
    outcome: 'ok',
    detail: '{"freshness":"realtime"}',
    ip: '10.0.0.1',
    deviceId: 'dev_1',
    requestId: `req_${seq}`,
    ...over,
  };
}

/** Seals rows the way the sealer does: per-tenant chains in seq order. */
function seal(rows: HashedRow[]): ChainLink[] {
  const heads = new Map<string, { seq: bigint | null; hash: string }>();
  return rows.map((r) => {
    const h = heads.get(r.tenantId) ?? { seq: null, hash: genesisHash(r.tenantId) };
    const link = { tenantId: r.tenantId, prevSeq: h.seq, prevHash: h.hash, hash: rowHash(h.hash, r, h.seq) };
    heads.set(r.tenantId, { seq: r.seq, hash: link.hash });
    return link;
  });
}

function walk(rows: HashedRow[], links: (ChainLink | null)[], checkpoints: { tenantId: string; headSeq: bigint; headHash: string; rowsTotal: bigint }[] = []) {
  const w = new ChainWalker(100);
  const cps = [...checkpoints].sort((a, b) => Number(a.headSeq - b.headSeq));
  rows.forEach((r, i) => {
    while (cps.length && cps[0]!.headSeq < r.seq) w.checkpoint(cps.shift()!);
    w.row(r, links[i]!);
  });
  for (const cp of cps) w.checkpoint(cp);
  return w;
}

describe('row hashes', () => {
  it('are SHA-256 hex, stable, and change with any field, the link or the previous hash', () => {
    const r = row(1);
    const g = genesisHash('t1');
    const h = rowHash(g, r, null);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(rowHash(g, { ...r }, null)).toBe(h);
    for (const [k, v] of Object.entries({ tenantId: 't2', recordedAt: '2026-01-05T02:00:01.123457Z', detail: '{"freshness":"cached"}', ip: null, outcome: 'refused' })) {
      expect(rowHash(g, { ...r, [k]: v } as HashedRow, null)).not.toBe(h);
    }
    expect(rowHash(g, r, 0n)).not.toBe(h);
    expect(rowHash(genesisHash('t2'), r, null)).not.toBe(h);
  });

  it('start from a genesis bound to the tenant', () => {
    expect(genesisHash('t1')).not.toBe(genesisHash('t2'));
    expect(canonicalRow(row(7), 3n)).toContain('"7","3","t1"');
  });
});

describe('the chain walker', () => {
  const rows = [row(1), row(2, 't2'), row(4), row(5), row(7, 't2'), row(9)];
  const links = seal(rows);
  const cps = [
    { tenantId: 't1', headSeq: 5n, headHash: links[3]!.hash, rowsTotal: 3n },
    { tenantId: 't2', headSeq: 7n, headHash: links[4]!.hash, rowsTotal: 2n },
    { tenantId: 't1', headSeq: 9n, headHash: links[5]!.hash, rowsTotal: 4n },
  ];

  it('finds nothing in an intact chain, seq gaps from rolled-back inserts included, and ends at each tenant head', () => {
    const w = walk(rows, links, cps);
    expect(w.problems).toEqual([]);
    expect(w.checked).toBe(6);
    expect(w.heads().map((h) => [h.tenantId, h.seq, h.rowsTotal])).toEqual([
      ['t1', 9n, 4n],
      ['t2', 7n, 2n],
    ]);
  });

  it('names a modified row once', () => {
    const tampered = rows.map((r) => (r.seq === 4n ? { ...r, detail: '{"freshness":"t+1"}' } : r));
    expect(walk(tampered, links, cps).problems).toEqual([{ seq: '4', kind: 'modified', problem: expect.stringContaining('modified') }]);
  });

  it('names a deleted middle row once, though the checkpoint count is short too', () => {
    const i = rows.findIndex((r) => r.seq === 4n);
    const w = walk(rows.toSpliced(i, 1), links.toSpliced(i, 1), cps);
    expect(w.problems).toEqual([{ seq: '4', kind: 'deleted', problem: expect.stringContaining('missing') }]);
  });

  it('names a deleted chain head through its checkpoint', () => {
    const i = rows.findIndex((r) => r.seq === 7n);
    const w = walk(rows.toSpliced(i, 1), links.toSpliced(i, 1), cps);
    expect(w.problems.map((p) => [p.seq, p.kind])).toEqual([['7', 'deleted']]);
  });

  it('names a row below the frontier that was never sealed as inserted behind the seal', () => {
    const late = row(3);
    const w = walk([rows[0]!, rows[1]!, late, ...rows.slice(2)], [links[0]!, links[1]!, null, ...links.slice(2)], cps);
    expect(w.problems.map((p) => [p.seq, p.kind])).toEqual([['3', 'inserted_behind_seal']]);
    expect(w.checked).toBe(6);
  });

  it('names a row re-sealed after modification by the broken link of its successor', () => {
    const tampered = rows.map((r) => (r.seq === 4n ? { ...r, outcome: 'refused' } : r));
    const resealed = links.map((l, i) => (rows[i]!.seq === 4n ? { ...l, hash: rowHash(l.prevHash, tampered[i]!, l.prevSeq) } : l));
    expect(walk(tampered, resealed).problems.map((p) => [p.seq, p.kind])).toEqual([['5', 'broken_link']]);
  });

  it('names a checkpoint the chain no longer ends at with its hash', () => {
    const bad = cps.map((c) => (c.headSeq === 7n ? { ...c, headHash: '0'.repeat(64) } : c));
    expect(walk(rows, links, bad).problems.map((p) => [p.seq, p.kind])).toEqual([['7', 'checkpoint_mismatch']]);
  });

  it('reports at most its limit', () => {
    const w = new ChainWalker(2);
    for (let i = 1; i <= 5; i++) w.row(row(i), null);
    expect(w.problems).toHaveLength(2);
    expect(w.full).toBe(true);
  });
});
