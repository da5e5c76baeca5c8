// recordAudits (one multi-row INSERT) against recordAudit one by one: the same checks, the same rows, a chain that seals and verifies the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import { recordAudit, recordAudits, verifyAuditChain, AuditRefusedError } from '../../../src/audit/index.ts';
import { entry, freshTenant, sealNow } from './fixtures.ts';

let db: TestDb;
const OPEN_DB_TIMEOUT_MS = 120_000;
beforeAll(async () => {
  db = await openTestDb();
}, OPEN_DB_TIMEOUT_MS);
afterAll(async () => {
  await db?.close();
});

/** A tenant's rows in seq order, without what differs by construction (seq, tenant, insert time). */
async function rowsOf(tenantId: string) {
  const rows = await db.db.selectFrom('audit_log').selectAll().where('tenant_id', '=', tenantId).orderBy('seq').execute();
  return rows.map(({ seq: _seq, tenant_id: _t, recorded_at: _r, ...rest }) => rest);
}

describe('recordAudits', () => {
  it('writes the same rows as recordAudit one by one, in order, and they seal and verify', async () => {
    const [one, many] = [freshTenant(), freshTenant()];
    const entries = (t: string) => Array.from({ length: 40 }, (_, i) => entry(t, i, i % 4 === 3 ? { outcome: 'refused', detail: { reason: 'quota_exceeded', n: i } } : {}));
    await inTx(db.db, async (tx) => {
      for (const e of entries(one)) await recordAudit(tx, e);
    });
    await inTx(db.db, (tx) => recordAudits(tx, entries(many)));
    expect(await rowsOf(many)).toEqual(await rowsOf(one));
    expect((await rowsOf(many)).map((r) => r.request_id)).toEqual(entries(many).map((e) => e.requestId));

    await sealNow(db.db);
    for (const t of [one, many]) {
      const v = await verifyAuditChain(db.db, { tenantId: t });
      expect(v).toMatchObject({ ok: true, problems: [], checked: 40 });
    }
    // Every row of the batch is in the chain exactly once.
    const chained = await db.db.selectFrom('audit_chain').select('seq').where('tenant_id', '=', many).execute();
    expect(chained).toHaveLength(40);
  });

  it('refuses the whole batch, writing nothing, when one entry holds a clear card number; an empty batch writes nothing', async () => {
    const t = freshTenant();
    const bad = [entry(t, 1), entry(t, 2, { detail: { cardNumber: '6228480402564890018' } }), entry(t, 3)];
    await expect(inTx(db.db, (tx) => recordAudits(tx, bad))).rejects.toBeInstanceOf(AuditRefusedError);
    // The single version refuses the same entry.
    await expect(recordAudit(db.db, bad[1]!)).rejects.toBeInstanceOf(AuditRefusedError);
    await expect(inTx(db.db, (tx) => recordAudits(tx, [entry(t, 4, { action: 'Not A Verb' })]))).rejects.toBeInstanceOf(AuditRefusedError);
    await inTx(db.db, (tx) => recordAudits(tx, []));
    expect(await rowsOf(t)).toEqual([]);
  });
});
