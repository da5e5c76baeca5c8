// Acceptance: a top-up exception worked through the console to a refund under four-eyes (the proposer cannot approve), reconciliation totals balance, the day's run and its CSV.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.ts';
import { inTx } from '../../../src/db/tx.ts';
import { findCardByNumber, setCardStatus } from '../../../src/core/index.ts';
import { DEMO_OPERATOR_PASSWORD, demoTotpSecret, seedDemoOperators } from '../../../src/admin/index.ts';
import { assertEveryFenAccounted, baseline, CITIZEN, startTopupWorld, TENANT, type Baseline, type Session, type TopupWorld } from '../topup/world.ts';
import { consoleFor, ensureAdminSchema, withAdmin, type Console } from './helpers.ts';

const clock = new ManualClock('2026-03-18T02:30:00Z');
let w: TopupWorld;
let base: Baseline;
let s: Session;
const team: Record<'admin' | 'operator' | 'reviewer' | 'reviewer2' | 'auditor', Console> = {} as never;

beforeAll(async () => {
  w = await startTopupWorld({ clock, extraServerModules: withAdmin([]) });
  await ensureAdminSchema(w.server.ctx.db);
  await seedDemoOperators(w.server.ctx);
  base = await baseline(w);
  s = await w.signIn();
  await w.bind(s, w.holder(CITIZEN.electronic));
  await signInTeam();
}, 120_000);
afterAll(async () => {
  await w?.close();
});

async function signInTeam(): Promise<void> {
  for (const role of ['admin', 'operator', 'reviewer', 'reviewer2', 'auditor'] as const) {
    const username = `${TENANT}.${role}`;
    team[role] = consoleFor(w.server.url, username, clock);
    const r = await team[role].signIn(DEMO_OPERATOR_PASSWORD, demoTotpSecret(username));
    expect(r.status, r.text).toBe(201);
  }
}

const card = () => w.holder(CITIZEN.electronic).cards[0]!.number;

describe('review queue through the console', { timeout: 60_000 }, () => {
  let itemId: string;
  let orderId: string;
  let paidFen: number;

  it('queues a payment that reached a frozen card, with its SLA timer and four-eyes flag', async () => {
    const set = await team.admin.call('PATCH', `/tenants/${TENANT}/settings`, { fourEyesThresholdFen: 5_000 });
    expect([set.status, set.body.fourEyesThresholdFen]).toEqual([200, '5000']);

    const order = await w.topup(s, { citizenCardNumber: card(), amount: 10_000, method: 'wechat_balance' });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    orderId = order.body.orderId;
    paidFen = order.body.total;
    const core = (await findCardByNumber(w.server.ctx.db, w.server.ctx.crypto, TENANT, card()))!;
    await inTx(w.server.ctx.db, (tx) => setCardStatus(tx, core.id, 'frozen', clock.now()));
    const paid = await w.pay(w.prepayOf(order.body.payParams));
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);

    const list = await team.reviewer.call('GET', `/tenants/${TENANT}/review-items`);
    expect(list.status, list.text).toBe(200);
    const item = list.body.items.find((i: { orderId: string }) => i.orderId === orderId);
    expect(item).toMatchObject({ class: 'card_unusable', status: 'open', heldFen: String(paidFen), needsFourEyes: true, allowedDecisions: ['credit', 'refund'] });
    expect(item.sla).toEqual({ dueAt: new Date(clock.now().getTime() + 2 * 3_600_000).toISOString(), remainingMs: 2 * 3_600_000, overdue: false, escalationLevel: 0 });
    itemId = item.id;
    clock.advance(10 * 60_000);
    const later = await team.reviewer.call('GET', `/tenants/${TENANT}/review-items/${itemId}`);
    expect(later.body.sla.remainingMs).toBe(110 * 60_000);
    await inTx(w.server.ctx.db, (tx) => setCardStatus(tx, core.id, 'active', clock.now()));
  });

  it('lets only reviewers decide, and never lets a reviewer approve their own proposal', async () => {
    const me = (c: Console) => c.call('GET', '/me').then((r) => r.body.operator.id as string);
    const reviewerId = await me(team.reviewer);
    const assigned = await team.reviewer.call('POST', `/tenants/${TENANT}/review-items/${itemId}/assignment`, { assignee: reviewerId });
    expect([assigned.status, assigned.body.assignee]).toEqual([200, reviewerId]);
    const toAuditor = await team.reviewer.call('POST', `/tenants/${TENANT}/review-items/${itemId}/assignment`, { assignee: await me(team.auditor) });
    expect([toAuditor.status, toAuditor.body.code]).toEqual([400, 'validation_failed']);

    const byOperator = await team.operator.call('POST', `/tenants/${TENANT}/review-items/${itemId}/decision`, { decision: 'refund' });
    expect([byOperator.status, byOperator.body.code]).toEqual([403, 'forbidden']);

    const proposed = await team.reviewer.call('POST', `/tenants/${TENANT}/review-items/${itemId}/decision`, { decision: 'refund', note: 'card frozen by the holder' });
    expect(proposed.status, proposed.text).toBe(200);
    expect(proposed.body).toMatchObject({ status: 'pending_approval', proposedDecision: 'refund', proposedBy: reviewerId });

    const own = await team.reviewer.call('POST', `/tenants/${TENANT}/review-items/${itemId}/approval`);
    expect([own.status, own.body.code]).toEqual([403, 'forbidden']);
    expect((await team.reviewer.call('GET', `/tenants/${TENANT}/review-items/${itemId}`)).body.status).toBe('pending_approval');
    const refused = await w.server.ctx.db.selectFrom('audit_log').select('outcome').where('action', '=', 'admin.review_approve').where('actor_id', '=', reviewerId).execute();
    expect(refused).toEqual([{ outcome: 'refused' }]);

    const approved = await team.reviewer2.call('POST', `/tenants/${TENANT}/review-items/${itemId}/approval`);
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ status: 'closed', decision: 'refund', decidedBy: reviewerId, approvedBy: await me(team.reviewer2) });
  });

  it('refunds through the automatic refund path, and the reconciliation totals balance', async () => {
    const during = await team.auditor.call('GET', `/tenants/${TENANT}/reconciliation/totals`);
    expect(during.status, during.text).toBe(200);
    expect(during.body).toMatchObject({ refundingFen: String(paidFen), heldFen: String(paidFen), heldForReviewFen: '0', checks: { suspenseExplained: true, accountsRecomputed: true, ledger: null }, balanced: true });

    const fen = await assertEveryFenAccounted(w, base); // runs the refund job and WeChat's settlement
    expect(fen.refundedFen).toBe(BigInt(paidFen));
    const topup = await w.call('GET', `/api/v1/topups/${orderId}`, { session: s });
    expect(topup.body.status).toBe('refunded');

    const after = await team.auditor.call('GET', `/tenants/${TENANT}/reconciliation/totals?ledger=full`);
    expect(after.body).toMatchObject({
      refundedFen: String(fen.refundedFen),
      creditedFen: String(fen.creditedFen),
      refundingFen: '0',
      heldFen: '0',
      heldForReviewFen: '0',
      checks: { suspenseExplained: true, accountsRecomputed: true, ledger: true },
      balanced: true,
    });
  });

  it("runs the day's reconciliation from the console, shows it by class and exports it as CSV", async () => {
    clock.set('2026-03-19T03:00:00Z');
    // A day later every console session has ended (idle and absolute limits).
    expect((await team.operator.call('GET', '/me')).status).toBe(401);
    await signInTeam();
    const run = await team.operator.call('POST', `/tenants/${TENANT}/reconciliation/runs`, { billDate: '2026-03-18' });
    expect(run.status, run.text).toBe(201);
    expect(run.body.run).toMatchObject({ billDate: '2026-03-18', status: 'done' });
    expect(run.body.run.totals.billPaidFen).toBe(run.body.run.totals.recordedPaidFen);
    const sumByClass = run.body.byClass.reduce((n: number, c: { count: number }) => n + c.count, 0);
    expect(sumByClass).toBe(run.body.mismatches.length);

    const runs = await team.auditor.call('GET', `/tenants/${TENANT}/reconciliation/runs`);
    expect(runs.body.items.map((r: { id: string }) => r.id)).toEqual([run.body.run.id]);
    const csv = await team.auditor.call('GET', `/tenants/${TENANT}/reconciliation/runs/${run.body.run.id}/mismatches.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('class,outTradeNo,orderId,billFen,recordedFen,action,reviewItemId,createdAt');
    expect(lines).toHaveLength(1 + run.body.mismatches.length);
    expect((await team.reviewer.call('POST', `/tenants/${TENANT}/reconciliation/runs`, { billDate: '2026-03-18' })).status).toBe(403);
  });

  it("searches the audit log with the chain's verification status", async () => {
    const r = await team.auditor.call('GET', `/tenants/${TENANT}/audit?action=admin.review_*&limit=100`);
    expect(r.status, r.text).toBe(200);
    const actions = new Set(r.body.items.map((i: { action: string }) => i.action));
    expect(actions).toEqual(new Set(['admin.review_list', 'admin.review_read', 'admin.review_assign', 'admin.review_decide', 'admin.review_approve']));
    expect(r.body.chain).toMatchObject({ ok: true, problems: 0 });
    const topupDecided = await team.auditor.call('GET', `/tenants/${TENANT}/audit?action=topup.review_decided`);
    expect(topupDecided.body.items).toHaveLength(1);
    expect((await team.operator.call('GET', `/tenants/${TENANT}/audit`)).status).toBe(403);
  });

  it('shows the ops view: this instance, queue depth, token status, core breaker', async () => {
    const r = await team.admin.call('GET', '/ops');
    expect(r.status, r.text).toBe(200);
    expect(r.body.instances.find((i: { self: boolean }) => i.self)).toMatchObject({ healthy: true, dbKind: w.server.ctx.dbKind });
    expect(Array.isArray(r.body.queues)).toBe(true);
    expect(r.body.tokens.every((t: { tenantId: string }) => t.tenantId === TENANT)).toBe(true);
    expect(r.body.coreBreaker).toHaveProperty('adapter');
  });
});
