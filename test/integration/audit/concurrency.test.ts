// The audit log under parallel connections (PostgreSQL only): writers never wait on each other's hashes, sealers take turns, nothing is lost or skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx, type Db } from '../../../src/db/tx.ts';
import { recordAudit, sealAudit, verifyAuditChain } from '../../../src/audit/index.ts';
import { entry, freshTenant, sealNow, seqsOf, T0 } from './fixtures.ts';

/** Connections per handle; four handles play four server instances on one database. */
const POOL_SIZE = 10;
const INSTANCES = 4;
const CALLS = 1_200;
const OPEN_DB_TIMEOUT_MS = 120_000;

let db: TestDb;
let instances: Db[];

describe.skipIf(!process.env.TEST_DATABASE_URL)('audit log under concurrency (needs PostgreSQL: PGlite has one connection)', () => {
  beforeAll(async () => {
    db = await openTestDb({ poolMax: POOL_SIZE });
    instances = [db.db, ...Array.from({ length: INSTANCES - 1 }, () => db.openAnother(POOL_SIZE).db)];
  }, OPEN_DB_TIMEOUT_MS);
  afterAll(async () => {
    await db?.close();
  });

  it(`seals and verifies ${CALLS} audit writes racing from ${INSTANCES * POOL_SIZE} connections, rolled-back ones leaving only harmless gaps`, async () => {
    const tenants = [freshTenant(), freshTenant(), freshTenant()];
    const committed = new Map(tenants.map((t) => [t, 0]));
    const calls = Array.from({ length: CALLS }, (_, i) => {
      const on = instances[i % INSTANCES]!;
      const t = tenants[i % tenants.length]!;
      switch (i % 5) {
        case 0:
          // Two entries in one transaction that rolls back: burnt seq values, no rows.
          return () =>
            inTx(on, async (tx) => {
              await recordAudit(tx, entry(t, i));
              await recordAudit(tx, entry(t, i + 0.5));
              throw new Error('rolled back');
            }).catch(() => undefined);
        case 1:
          committed.set(t, committed.get(t)! + 2);
          return () =>
            inTx(on, async (tx) => {
              await recordAudit(tx, entry(t, i));
              await recordAudit(tx, entry(t, i + 0.5));
            });
        default:
          committed.set(t, committed.get(t)! + 1);
          return () => recordAudit(on, entry(t, i));
      }
    });
    await Promise.all(calls.map((c) => c()));

    // Sealers on every instance at once, in small batches: they take turns and seal each row once.
    const seals = await Promise.all(instances.map((on) => sealAudit({ db: on }, { now: T0, marginMs: 0, batchRows: 50 })));
    const total = [...committed.values()].reduce((a, b) => a + b, 0);
    expect(seals.reduce((a, s) => a + s.sealed, 0)).toBe(total);
    expect((await sealNow(db.db)).sealed).toBe(0);

    const r = await verifyAuditChain(db.db);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, checked: total, pending: 0 });
    for (const t of tenants) {
      const mine = await verifyAuditChain(db.db, { tenantId: t });
      expect(mine).toMatchObject({ ok: true, checked: committed.get(t) });
      expect(mine.heads).toHaveLength(1);
      expect(BigInt(mine.heads[0]!.seq)).toBe((await seqsOf(db.db, t)).at(-1));
    }
    const chained = await db.db.selectFrom('audit_chain').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(chained.n)).toBe(total);
  });

  it('does not seal past a transaction still in flight within the margin, and reports its row as behind the seal when sealing ignored the margin', async () => {
    const t = freshTenant();
    const [a, b] = [instances[1]!, instances[2]!];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const insertedYet = new Promise<void>((r) => (inserted = r));
    // Instance A draws a seq and holds its transaction open.
    const slow = a.transaction().execute(async (tx) => {
      await recordAudit(tx, entry(t, 1));
      inserted();
      await gate;
    });
    await insertedYet;
    // Instance B writes a later seq and commits first.
    await recordAudit(b, entry(t, 2));

    // With the margin, the fresh row is not ripe: nothing is sealed past A's invisible row.
    expect((await sealAudit({ db: db.db }, { now: T0, marginMs: 3_600_000 })).sealed).toBe(0);
    // Without it, B's row is sealed over A's unfinished one...
    expect((await sealNow(db.db)).sealed).toBe(1);
    release();
    await slow;
    // ...and A's row, committed later below the frontier, is reported, never silently skipped.
    const [lateSeq] = await seqsOf(db.db, t);
    const r = await verifyAuditChain(db.db, { tenantId: t });
    expect(r.problems.map((p) => [p.seq, p.kind])).toEqual([[String(lateSeq), 'inserted_behind_seal']]);
  });
});
