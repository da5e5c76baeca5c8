// recordRead's group commit applies a batch in a few multi-row statements: each record still gets its own answer (ok, card_frozen, quota_exceeded), one audit entry in the sealed chain, exact quota counts, and a freeze triggered inside the batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { AppError } from '../../../src/app/errors.ts';
import { recordRead, type ReadRecord } from '../../../src/accounts/query-gate.ts';
import { activeFreeze, listRiskEvents, riskModule } from '../../../src/risk/index.ts';
import { sealAudit, verifyAuditChain } from '../../../src/audit/index.ts';
import type { Policy } from '../../../src/tenants/index.ts';
import { makeTenant } from '../risk/fixtures.ts';

let t: TestApp;
const FREEZES = 'gate-freezes'; // freezes above 5 queries a day, quota 10 a day
const CAPPED = 'gate-capped'; // 2 bound queries a day
const D0 = new Date('2026-01-05T01:00:00Z');
const at = (seconds: number) => new Date(D0.getTime() + seconds * 1_000);
const policies = new Map<string, Policy>();

beforeAll(async () => {
  t = await startTestApp({ modules: [riskModule] });
  policies.set(FREEZES, (await makeTenant(t.ctx, FREEZES, 'daily-10', { freeze: { queriesPerDayAbove: 5, durationMinutes: 30 } })).policy);
  policies.set(CAPPED, (await makeTenant(t.ctx, CAPPED, 'daily-10', { quotas: { boundPerUserPerDay: 2 } })).policy);
}, 120_000);
afterAll(async () => {
  await t?.close();
});

function read(tenantId: string, userId: string, n: number, counts = true): ReadRecord {
  return {
    tenantId,
    policy: policies.get(tenantId)!,
    userId,
    cardId: `card_${userId}`,
    action: 'balance.read',
    counts,
    detail: { maskedNumber: '622848*********0018', n },
    meta: { ip: '127.0.0.1', deviceId: `dev_${userId}`, requestId: `req_${userId}_${n}` },
    now: at(n),
  };
}

const settle = (p: Promise<unknown>) =>
  p.then(
    (v) => ({ ok: v }),
    (e: unknown) => (e instanceof AppError ? { code: e.code } : { thrown: String(e) }),
  );

describe('recordRead in one group commit', { timeout: 60_000 }, () => {
  it('answers each record as one by one would: ok with its quota count, card_frozen at the freeze, quota_exceeded past the limit, each audited once', async () => {
    // Submitted in one turn: one batch (64 items at most).
    const records = [
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => read(FREEZES, 'usr_a', n)),
      read(FREEZES, 'usr_b', 1, false),
      ...[1, 2, 3].map((n) => read(CAPPED, 'usr_d', n)),
    ];
    const answers = await Promise.all(records.map((r) => settle(recordRead(t.ctx, r))));
    const use = (used: number, limit: number) => ({ ok: expect.objectContaining({ used, limit }) });
    expect(answers).toEqual([
      use(1, 10), use(2, 10), use(3, 10), use(4, 10), use(5, 10),
      // The 6th query of the day freezes the user: refused, the evidence kept, no quota used.
      { code: 'card_frozen' },
      // Later records of the batch count from the freeze's baseline, as one by one.
      use(6, 10), use(7, 10),
      // A next page (counts: false): audited only.
      { ok: undefined },
      use(1, 2), use(2, 2), { code: 'quota_exceeded' },
    ]);

    expect(await activeFreeze(t.ctx.db, { tenantId: FREEZES, userId: 'usr_a', now: at(10) })).toMatchObject({ scope: 'user', until: new Date(at(6).getTime() + 30 * 60_000) });
    expect(await listRiskEvents(t.ctx.db, { tenantId: FREEZES, subject: { kind: 'user', id: 'usr_a' } })).toHaveLength(1);
    const quotas = await t.ctx.db.selectFrom('risk_quotas').select(['tenant_id', 'key', 'used']).where('tenant_id', 'in', [FREEZES, CAPPED]).orderBy('tenant_id').orderBy('key').execute();
    expect(quotas).toEqual([
      { tenant_id: CAPPED, key: 'usr_d', used: 2 },
      { tenant_id: FREEZES, key: 'usr_a', used: 7 },
    ]);
    const signals = await t.ctx.db.selectFrom('risk_signals').select(['user_id']).where('tenant_id', 'in', [FREEZES, CAPPED]).execute();
    expect(signals.filter((s) => s.user_id === 'usr_a')).toHaveLength(8);
    expect(signals.filter((s) => s.user_id === 'usr_d')).toHaveLength(3);
    expect(signals.filter((s) => s.user_id === 'usr_b')).toHaveLength(0);

    // Every record audited exactly once, with its outcome; the freeze once.
    const audits = await t.ctx.db.selectFrom('audit_log').select(['tenant_id', 'actor_id', 'action', 'outcome', 'detail', 'request_id']).where('tenant_id', 'in', [FREEZES, CAPPED]).orderBy('seq').execute();
    const reads = audits.filter((a) => a.action === 'balance.read');
    expect(reads.map((a) => a.request_id).sort()).toEqual(records.map((r) => r.meta.requestId).sort());
    const outcome = (id: string) => reads.find((a) => a.request_id === id)!;
    expect(outcome('req_usr_a_6')).toMatchObject({ outcome: 'refused', detail: expect.stringContaining('risk_freeze') });
    expect(outcome('req_usr_d_3')).toMatchObject({ outcome: 'refused', detail: expect.stringContaining('quota_exceeded') });
    expect(reads.filter((a) => a.outcome === 'ok')).toHaveLength(10);
    expect(audits.filter((a) => a.action === 'risk.freeze')).toHaveLength(1);

    await sealAudit(t.ctx, { now: at(100), marginMs: 0 });
    for (const tenantId of [FREEZES, CAPPED]) {
      expect(await verifyAuditChain(t.ctx.db, { tenantId })).toMatchObject({ ok: true, problems: [], checked: audits.filter((a) => a.tenant_id === tenantId).length });
    }
  });
});
