// The audit log on the database: append-only at the database, sealed in batches behind a safety margin, and every kind of tampering found by verify.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import { rowHash } from '../../../src/audit/chain.ts';
import { hashedColumns, toHashedRow, type HashedColumns } from '../../../src/audit/store.ts';
import { recordAudit, sealAudit, verifyAuditChain, AuditRefusedError, genesisHash } from '../../../src/audit/index.ts';
import { asSuperuser, entry, freshTenant, recordMany, sealNow, seqsOf, T0 } from './fixtures.ts';

let db: TestDb;
/** Opening and migrating PGlite can take a while on a loaded machine. */
const OPEN_DB_TIMEOUT_MS = 120_000;
beforeAll(async () => {
  db = await openTestDb();
}, OPEN_DB_TIMEOUT_MS);
afterAll(async () => {
  await db?.close();
});

async function sqlError(statement: ReturnType<typeof sql>): Promise<{ code?: string; message: string }> {
  try {
    await inTx(db.db, (tx) => statement.execute(tx));
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('the statement was expected to fail');
}

async function kinds(tenantId: string, opts: Parameters<typeof verifyAuditChain>[1] = {}) {
  const r = await verifyAuditChain(db.db, { tenantId, ...opts });
  return r.problems.map((p) => [p.seq, p.kind]);
}

describe('sealing and verifying an untouched log', () => {
  it('seals every committed row in seq order, one chain per tenant, and verifies them all sound', async () => {
    const [a, b] = [freshTenant(), freshTenant()];
    for (let i = 0; i < 12; i++) await recordAudit(db.db, entry(i % 3 === 0 ? b : a, i));
    const s = await sealNow(db.db);
    expect(s.sealed).toBe(12);
    const r = await verifyAuditChain(db.db);
    expect(r).toMatchObject({ ok: true, checked: 12, problems: [], pending: 0, truncated: false });
    expect(r.sealedThrough).toBe(s.sealedThrough.toString());
    // Each tenant's chain starts at its own genesis and its head is the newest checkpoint.
    const chainA = await db.db.selectFrom('audit_chain').selectAll().where('tenant_id', '=', a).orderBy('seq').execute();
    expect(chainA[0]!.prev_seq).toBeNull();
    expect(chainA[0]!.prev_hash).toBe(genesisHash(a));
    expect(chainA[1]!.prev_seq).toEqual(chainA[0]!.seq);
    const cp = await db.db.selectFrom('audit_checkpoints').selectAll().where('tenant_id', '=', a).executeTakeFirstOrThrow();
    expect({ ...cp, rows_total: Number(cp.rows_total) }).toMatchObject({ rows: 8, rows_total: 8, head_seq: chainA[7]!.seq, head_hash: chainA[7]!.hash });
    expect(r.heads).toContainEqual({ tenantId: a, seq: chainA[7]!.seq.toString(), hash: chainA[7]!.hash });
  });

  it('leaves rows younger than the safety margin (database clock) unsealed and counts them as pending', async () => {
    const t = freshTenant();
    await recordMany(db.db, t, 3);
    expect((await sealAudit({ db: db.db }, { now: T0, marginMs: 3_600_000 })).sealed).toBe(0);
    expect(await verifyAuditChain(db.db, { tenantId: t })).toMatchObject({ ok: true, checked: 0, pending: 3 });
    // A row recorded an hour ago by the database clock is ripe, and takes every lower seq with it.
    const [first] = await seqsOf(db.db, t);
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_log set recorded_at = recorded_at - interval '2 hours' where seq = ${first}`.execute(tx);
    });
    expect((await sealAudit({ db: db.db }, { now: T0, marginMs: 3_600_000 })).sealed).toBe(1);
    expect((await sealNow(db.db)).sealed).toBe(2);
    expect(await verifyAuditChain(db.db, { tenantId: t })).toMatchObject({ ok: true, checked: 3, pending: 0 });
  });

  it('seals in bounded batches, with a checkpoint per tenant per batch carrying the running count', async () => {
    const t = freshTenant();
    await recordMany(db.db, t, 10);
    const s = await sealAudit({ db: db.db }, { now: T0, marginMs: 0, batchRows: 3, maxBatches: 2 });
    expect(s).toMatchObject({ sealed: 6, batches: 2 });
    expect((await sealAudit({ db: db.db }, { now: T0, marginMs: 0, batchRows: 3 })).sealed).toBe(4);
    const cps = await db.db.selectFrom('audit_checkpoints').select(['rows', 'rows_total']).where('tenant_id', '=', t).orderBy('head_seq').execute();
    expect(cps.map((c) => [c.rows, Number(c.rows_total)])).toEqual([
      [3, 3],
      [3, 6],
      [3, 9],
      [1, 10],
    ]);
    expect(await verifyAuditChain(db.db, { tenantId: t })).toMatchObject({ ok: true, checked: 10 });
  });

  it('does not take sequence values burnt by rolled-back transactions for deleted rows', async () => {
    const t = freshTenant();
    await recordMany(db.db, t, 2);
    for (let i = 0; i < 3; i++) {
      await inTx(db.db, async (tx) => {
        await recordAudit(tx, entry(t, 100 + i));
        throw new Error('rolled back');
      }).catch(() => undefined);
    }
    await recordMany(db.db, t, 2, 2);
    const seqs = await seqsOf(db.db, t);
    expect(seqs[2]! - seqs[1]!).toBe(4n);
    await sealNow(db.db);
    expect(await verifyAuditChain(db.db, { tenantId: t })).toMatchObject({ ok: true, checked: 4 });
  });

  it('verifies incrementally from the last batch at or before a seq', async () => {
    const t = freshTenant();
    await recordMany(db.db, t, 4);
    const first = await sealNow(db.db);
    await recordMany(db.db, t, 3, 4);
    await sealNow(db.db);
    const r = await verifyAuditChain(db.db, { tenantId: t, afterSeq: first.sealedThrough });
    expect(r).toMatchObject({ ok: true, checked: 3 });
    expect(r.heads[0]).toMatchObject({ tenantId: t });
  });
});

describe('the database refuses edits', () => {
  it('refuses UPDATE, DELETE and TRUNCATE of audit rows, seals, checkpoints and consents, whoever sends them', async () => {
    const t = freshTenant();
    await recordMany(db.db, t, 1);
    await sealNow(db.db);
    const [seq] = await seqsOf(db.db, t);
    await db.db.insertInto('consents').values({ tenant_id: t, user_id: 'usr_1', purpose: 'marketing', notice_version: 'v1', granted: false, at: T0 }).execute();
    const attempts = [
      sql`update audit_log set outcome = 'refused' where seq = ${seq}`,
      sql`delete from audit_log where seq = ${seq}`,
      sql`update audit_chain set hash = ${'0'.repeat(64)} where seq = ${seq}`,
      sql`delete from audit_chain where seq = ${seq}`,
      sql`delete from audit_checkpoints where tenant_id = ${t}`,
      sql`truncate audit_log`,
      sql`truncate audit_checkpoints`,
      sql`update consents set granted = true`,
      sql`delete from consents`,
    ];
    for (const s of attempts) {
      const e = await sqlError(s);
      expect(e.code).toBe('55000');
      expect(e.message).toContain('append-only');
    }
  });

  it('refuses, before writing, an entry that carries a clear card number or a malformed action', async () => {
    const t = freshTenant();
    await expect(recordAudit(db.db, entry(t, 1, { detail: { card: '6228480402564890018' } }))).rejects.toThrow(AuditRefusedError);
    await expect(recordAudit(db.db, entry(t, 1, { subject: { kind: 'card', id: '6228480402564890018' } }))).rejects.toThrow(AuditRefusedError);
    await expect(recordAudit(db.db, entry(t, 1, { action: 'read' }))).rejects.toThrow(AuditRefusedError);
    expect(await seqsOf(db.db, t)).toEqual([]);
    // What the client controls is masked instead.
    await recordAudit(db.db, entry(t, 1, { requestId: '13812345678', deviceId: 'dev 6228480402564890018' }));
    const r = await db.db.selectFrom('audit_log').select(['request_id', 'device_id']).where('tenant_id', '=', t).executeTakeFirstOrThrow();
    expect(r).toEqual({ request_id: '138****5678', device_id: 'dev 622848*********0018' });
  });
});

describe('tampering found by verify', () => {
  async function sealedTenant(n = 5) {
    const t = freshTenant();
    await recordMany(db.db, t, n);
    await sealNow(db.db);
    return { t, seqs: await seqsOf(db.db, t) };
  }

  it('names a row modified after sealing, and only that row', async () => {
    const { t, seqs } = await sealedTenant();
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_log set detail = '{"freshness":"cached"}' where seq = ${seqs[2]}`.execute(tx);
    });
    expect(await kinds(t)).toEqual([[String(seqs[2]), 'modified']]);
  });

  it('notices a time moved by one microsecond', async () => {
    const { t, seqs } = await sealedTenant(2);
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_log set at = at + interval '1 microsecond' where seq = ${seqs[0]}`.execute(tx);
    });
    expect(await kinds(t)).toEqual([[String(seqs[0]), 'modified']]);
  });

  it('names a row moved to another tenant as one modified row', async () => {
    const { t, seqs } = await sealedTenant(4);
    const other = freshTenant();
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_log set tenant_id = ${other} where seq = ${seqs[1]}`.execute(tx);
    });
    // Seen from the other tenant: one modified row (its seal still puts it in t's chain).
    expect(await kinds(other)).toEqual([[String(seqs[1]), 'modified']]);
    // Seen from t alone: a row of its chain is gone.
    expect(await kinds(t)).toEqual([[String(seqs[1]), 'deleted']]);
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_log set tenant_id = ${t} where seq = ${seqs[1]}`.execute(tx);
    });
  });

  it('names a deleted row in the middle of a chain', async () => {
    const { t, seqs } = await sealedTenant();
    await asSuperuser(db.db, async (tx) => {
      await sql`delete from audit_log where seq = ${seqs[2]}`.execute(tx);
    });
    expect(await kinds(t)).toEqual([[String(seqs[2]), 'deleted']]);
  });

  it('names a deleted chain head, with its seal, through the checkpoint', async () => {
    const { t, seqs } = await sealedTenant();
    await asSuperuser(db.db, async (tx) => {
      await sql`delete from audit_log where seq = ${seqs[4]}`.execute(tx);
      await sql`delete from audit_chain where seq = ${seqs[4]}`.execute(tx);
    });
    expect(await kinds(t)).toEqual([[String(seqs[4]), 'deleted']]);
  });

  it('names a row that appeared below the sealed frontier as inserted behind the seal', async () => {
    const { t, seqs } = await sealedTenant(3);
    // A transaction that outlived the margin: its seq is below rows already sealed. On one
    // connection the late arrival is played by writing the seq explicitly.
    await asSuperuser(db.db, async (tx) => {
      await sql`delete from audit_chain where seq = ${seqs[1]}`.execute(tx);
      await sql`delete from audit_log where seq = ${seqs[1]}`.execute(tx);
      await sql`update audit_chain set prev_seq = ${seqs[0]}, prev_hash = (select hash from audit_chain where seq = ${seqs[0]}) where seq = ${seqs[2]}`.execute(tx);
    });
    await asSuperuser(db.db, async (tx) => {
      await sql`insert into audit_log (seq, tenant_id, at, actor_kind, actor_id, action, outcome) overriding system value
                values (${seqs[1]}, ${t}, ${T0}, 'system', 'sys', 'late.row', 'ok')`.execute(tx);
    });
    const problems = (await verifyAuditChain(db.db, { tenantId: t })).problems.map((p) => [p.seq, p.kind]);
    expect(problems).toContainEqual([String(seqs[1]), 'inserted_behind_seal']);
    // The sealer never seals behind its frontier.
    expect((await sealNow(db.db)).sealed).toBe(0);
  });

  it('catches a re-sealed row by its successor, a re-sealed chain by its checkpoint, and a full rewrite only by an anchor', async () => {
    const { t, seqs } = await sealedTenant(4);
    const before = await verifyAuditChain(db.db, { tenantId: t });
    const anchor = before.heads.find((h) => h.tenantId === t)!;
    const rows = (await db.db.selectFrom('audit_log as l').select(hashedColumns()).where('l.tenant_id', '=', t).orderBy('l.seq').execute()) as HashedColumns[];

    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_log set outcome = 'refused' where seq = ${seqs[1]}`.execute(tx);
    });
    const tampered = (await db.db.selectFrom('audit_log as l').select(hashedColumns()).where('l.seq', '=', seqs[1]!).execute()) as HashedColumns[];
    rows[1] = tampered[0]!;
    // Re-seal just that row: its successor still holds the old hash.
    const link1 = await db.db.selectFrom('audit_chain').selectAll().where('seq', '=', seqs[1]!).executeTakeFirstOrThrow();
    const h1 = rowHash(link1.prev_hash, toHashedRow(rows[1]!), link1.prev_seq);
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_chain set hash = ${h1} where seq = ${seqs[1]}`.execute(tx);
    });
    expect(await kinds(t)).toEqual([[String(seqs[2]), 'broken_link']]);

    // Re-seal the rest of the chain: the checkpoint still holds the old head.
    let prev = h1;
    for (let i = 2; i < rows.length; i++) {
      const h = rowHash(prev, toHashedRow(rows[i]!), seqs[i - 1]!);
      await asSuperuser(db.db, async (tx) => {
        await sql`update audit_chain set prev_hash = ${prev}, hash = ${h} where seq = ${seqs[i]}`.execute(tx);
      });
      prev = h;
    }
    expect(await kinds(t)).toEqual([[String(seqs[3]), 'checkpoint_mismatch']]);

    // Rewrite the checkpoint too: nothing inside the database disagrees any more; the anchor does.
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_checkpoints set head_hash = ${prev} where tenant_id = ${t}`.execute(tx);
    });
    expect(await kinds(t)).toEqual([]);
    expect(await kinds(t, { anchors: [{ tenantId: t, seq: anchor.seq, hash: anchor.hash }] })).toEqual([[anchor.seq, 'anchor_mismatch']]);
  });

  it('catches a removed tail (rows, seals and checkpoint) with an anchor', async () => {
    const t = freshTenant();
    await recordMany(db.db, t, 2);
    await sealNow(db.db);
    await recordMany(db.db, t, 2, 2);
    await sealNow(db.db);
    const anchor = (await verifyAuditChain(db.db, { tenantId: t })).heads[0]!;
    const seqs = await seqsOf(db.db, t);
    await asSuperuser(db.db, async (tx) => {
      await sql`delete from audit_log where seq >= ${seqs[2]}`.execute(tx);
      await sql`delete from audit_chain where seq >= ${seqs[2]}`.execute(tx);
      await sql`delete from audit_checkpoints where head_seq >= ${seqs[2]}`.execute(tx);
    });
    expect(await kinds(t, { anchors: [{ tenantId: t, seq: anchor.seq, hash: anchor.hash }] })).toEqual([[anchor.seq, 'deleted']]);
  });

  it('names seals past the last checkpoint when checkpoints were deleted', async () => {
    const { t, seqs } = await sealedTenant(2);
    await asSuperuser(db.db, async (tx) => {
      await sql`delete from audit_checkpoints where tenant_id = ${t}`.execute(tx);
    });
    const k = await kinds(t);
    expect(k[0]).toEqual([String(seqs[0]), 'deleted']);
  });

  it('stops at the problem limit and says so', async () => {
    const { t } = await sealedTenant(8);
    await asSuperuser(db.db, async (tx) => {
      await sql`update audit_log set outcome = 'error' where tenant_id = ${t}`.execute(tx);
    });
    const r = await verifyAuditChain(db.db, { tenantId: t, maxProblems: 3 });
    expect(r).toMatchObject({ ok: false, truncated: true });
    expect(r.problems).toHaveLength(3);
  });
});
