// The operator console's HTTP API under /admin/api/v1: cookie session + CSRF hook, role and tenant checks, one audit entry per request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { stringify } from 'csv-stringify/sync';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import type { App } from '../app/server.ts';
import { inTx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { listTenants, requireTenant, TENANT_ID_PATTERN } from '../tenants/index.ts';
import {
  allowedDecisions,
  approveReviewDecision,
  assignReviewItem,
  decideReviewItem,
  declineReviewDecision,
  getReviewItem,
  getTopupSettings,
  listReviewItems,
  needsFourEyes,
  reconcileDay,
  updateTopupSettings,
  type ReviewItem,
} from '../topup/index.ts';
import { activeFreeze, liftFreeze, listRiskEvents, reviewRiskEvent, type RiskEventView } from '../risk/index.ts';
import { funnelReport, SEGMENTS, FUNNEL_MAX_SPAN_MS, type Segment } from '../contact/index.ts';
import { coreOf } from '../core/index.ts';
import { tokenStats } from '../wechat/api/index.ts';
import { canActOnTenant, isAllowed, OPERATOR_ROLES, PERMISSIONS as PERMISSION_LIST, type Permission } from './rbac.ts';
import { cookieValue, csrfOk, resolveSession, signIn, signOut, CSRF_COOKIE, CSRF_HEADER, SESSION_ABSOLUTE_MS, SESSION_COOKIE, type AdminPrincipal } from './sessions.ts';
import { createOperator, disableOperator, getOperatorRow, listOperators, PLATFORM_AUDIT_TENANT, type Operator } from './operators.ts';
import { changePolicy, policyVersions, policyView, previewPolicy } from './policies.ts';
import { chainStatus, heartbeat, instances, listReconRuns, moneyTotals, queueDepth, reconRun, searchAudit } from './reads.ts';

export const ADMIN_PREFIX = '/admin/api/v1';

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
  interface FastifyContextConfig {
    /** The audit verb (`admin.<auditAction>`) of an admin route. */
    auditAction?: string;
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Handler {
  (ctx: AppContext, req: FastifyRequest & { params: any; query: any; body: any }, reply: FastifyReply, who: AdminPrincipal): Promise<unknown>;
}

interface RouteSpec {
  method: Method;
  url: string;
  permission: Permission;
  /** The audit verb of the request (`admin.<action>`). */
  action: string;
  summary: string;
  schema?: { params?: TSchema; querystring?: TSchema; body?: TSchema };
  handler: Handler;
}

const TenantId = Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 });
const Id = Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,80}$' });
const T = Type.Object({ tenantId: TenantId });
const TItem = Type.Object({ tenantId: TenantId, itemId: Id });
const DateTime = Type.String({ format: 'date-time' });
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 100 }));
const Note = Type.Optional(Type.String({ maxLength: 500 }));

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** A review item as the console shows it: fen as strings, the SLA clock, what can be decided. */
function itemView(item: ReviewItem, now: Date, thresholdFen: bigint) {
  const remainingMs = item.dueAt.getTime() - now.getTime();
  return {
    ...item,
    amountFen: String(item.amountFen),
    heldFen: String(item.heldFen),
    sla: { dueAt: item.dueAt.toISOString(), remainingMs, overdue: item.status !== 'closed' && remainingMs < 0, escalationLevel: item.escalationLevel },
    allowedDecisions: item.status === 'open' ? allowedDecisions(item) : [],
    needsFourEyes: needsFourEyes(item, thresholdFen),
  };
}

function riskView(e: RiskEventView, now: Date, slaMinutes: number) {
  const dueAt = new Date(e.createdAt.getTime() + slaMinutes * 60_000);
  return { ...e, sla: { dueAt: dueAt.toISOString(), remainingMs: dueAt.getTime() - now.getTime(), overdue: e.status === 'open' && dueAt.getTime() < now.getTime() } };
}

/** An assignee must be an active reviewer (or admin) who can act on the tenant. */
async function assertAssignee(ctx: AppContext, tenantId: string, operatorId: string): Promise<void> {
  const r = await getOperatorRow(ctx.db, operatorId);
  if (!r || r.disabled_at || !canActOnTenant(r.tenant_id, tenantId) || !isAllowed(r.role, 'review.decide')) {
    throw AppError.validation([{ field: 'assignee', message: 'must be an active reviewer of this tenant' }]);
  }
}

const ROUTES: RouteSpec[] = [
  {
    method: 'DELETE', url: '/session', permission: 'session', action: 'sign_out', summary: 'Sign out (ends the session)',
    handler: async (ctx, _req, reply, who) => {
      await signOut(ctx, who);
      clearCookies(ctx, reply);
      reply.code(204);
      return undefined;
    },
  },
  {
    method: 'GET', url: '/me', permission: 'session', action: 'me', summary: 'The signed-in operator and what their role allows',
    handler: async (_ctx, _req, _reply, who) => ({ operator: who.operator, permissions: permissionsOf(who.operator) }),
  },
  {
    method: 'GET', url: '/tenants', permission: 'tenants.read', action: 'tenants_read', summary: 'Tenants the operator may act on',
    handler: async (ctx, _req, _reply, who) => ({
      items: (await listTenants(ctx.db)).filter((t) => canActOnTenant(who.operator.tenantId, t.id)).map((t) => ({ id: t.id, name: t.name, kind: t.kind, preset: t.preset })),
    }),
  },
  {
    method: 'GET', url: '/tenants/:tenantId/policy', permission: 'policy.read', action: 'policy_read', summary: "The tenant's policy profile and its version",
    schema: { params: T },
    handler: async (ctx, req) => policyView(ctx.db, req.params.tenantId),
  },
  {
    method: 'POST', url: '/tenants/:tenantId/policy/preview', permission: 'policy.read', action: 'policy_preview', summary: 'Validate a patch and show the change, without saving',
    schema: { params: T, body: Type.Object({ patch: Type.Unknown() }, { additionalProperties: false }) },
    handler: async (ctx, req) => previewPolicy(ctx.db, req.params.tenantId, req.body.patch),
  },
  {
    method: 'PUT', url: '/tenants/:tenantId/policy', permission: 'policy.write', action: 'policy_change', summary: 'Apply a patch as the next version (baseVersion must be current)',
    schema: { params: T, body: Type.Object({ baseVersion: Type.Integer({ minimum: 0 }), patch: Type.Record(Type.String(), Type.Unknown()), note: Note }, { additionalProperties: false }) },
    handler: async (ctx, req, _reply, who) =>
      changePolicy(ctx, { tenantId: req.params.tenantId, baseVersion: req.body.baseVersion, patch: req.body.patch, ...(req.body.note !== undefined ? { note: req.body.note } : {}), operatorId: who.operator.id, requestId: req.id }),
  },
  {
    method: 'GET', url: '/tenants/:tenantId/policy/versions', permission: 'policy.read', action: 'policy_versions', summary: 'Version history, newest first',
    schema: { params: T, querystring: Type.Object({ limit: Limit }) },
    handler: async (ctx, req) => ({ items: await policyVersions(ctx.db, req.params.tenantId, req.query.limit ?? 20) }),
  },
  {
    method: 'GET', url: '/tenants/:tenantId/settings', permission: 'settings.read', action: 'settings_read', summary: 'Top-up switches: pause, four-eyes threshold',
    schema: { params: T },
    handler: async (ctx, req) => settingsView(await getTopupSettings(ctx.db, req.params.tenantId)),
  },
  {
    method: 'PATCH', url: '/tenants/:tenantId/settings', permission: 'settings.write', action: 'settings_change', summary: 'Change the four-eyes threshold or pause/resume new top-ups',
    schema: {
      params: T,
      body: Type.Object(
        { fourEyesThresholdFen: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000_000 })), paused: Type.Optional(Type.Boolean()), pausedMessage: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])) },
        { additionalProperties: false },
      ),
    },
    handler: async (ctx, req, _reply, who) => {
      const b = req.body as { fourEyesThresholdFen?: number; paused?: boolean; pausedMessage?: string | null };
      return settingsView(
        await updateTopupSettings(ctx, req.params.tenantId, who.operator.id, {
          ...(b.fourEyesThresholdFen !== undefined ? { fourEyesThresholdFen: BigInt(b.fourEyesThresholdFen) } : {}),
          ...(b.paused !== undefined ? { paused: b.paused } : {}),
          ...(b.pausedMessage !== undefined ? { pausedMessage: b.pausedMessage } : {}),
        }),
      );
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/review-items', permission: 'review.read', action: 'review_list', summary: 'Top-up exceptions, most urgent first, with SLA timers',
    schema: {
      params: T,
      querystring: Type.Object({
        status: Type.Optional(Type.Enum(['unresolved', 'open', 'pending_approval', 'closed'])),
        class: Type.Optional(Type.String({ maxLength: 40 })),
        assignee: Type.Optional(Id),
        limit: Limit,
        cursor: Type.Optional(Type.String({ maxLength: 200 })),
      }),
    },
    handler: async (ctx, req) => {
      const q = req.query;
      const [page, settings] = await Promise.all([
        listReviewItems(ctx.db, req.params.tenantId, { ...(q.status ? { status: q.status } : {}), ...(q.class ? { class: q.class } : {}), ...(q.assignee ? { assignee: q.assignee } : {}), ...(q.limit ? { limit: q.limit } : {}), ...(q.cursor ? { cursor: q.cursor } : {}) }),
        getTopupSettings(ctx.db, req.params.tenantId),
      ]);
      const now = ctx.clock.now();
      return { items: page.items.map((i) => itemView(i, now, settings.fourEyesThresholdFen)), nextCursor: page.nextCursor };
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/review-items/:itemId', permission: 'review.read', action: 'review_read', summary: 'One review item',
    schema: { params: TItem },
    handler: async (ctx, req) => {
      const [item, settings] = await Promise.all([getReviewItem(ctx.db, req.params.tenantId, req.params.itemId), getTopupSettings(ctx.db, req.params.tenantId)]);
      return itemView(item, ctx.clock.now(), settings.fourEyesThresholdFen);
    },
  },
  {
    method: 'POST', url: '/tenants/:tenantId/review-items/:itemId/assignment', permission: 'review.decide', action: 'review_assign', summary: 'Assign to a reviewer (or null to unassign)',
    schema: { params: TItem, body: Type.Object({ assignee: Type.Union([Id, Type.Null()]) }, { additionalProperties: false }) },
    handler: async (ctx, req, _reply, who) => {
      if (req.body.assignee !== null) await assertAssignee(ctx, req.params.tenantId, req.body.assignee);
      const item = await assignReviewItem(ctx, { tenantId: req.params.tenantId, itemId: req.params.itemId, operatorId: who.operator.id, assignee: req.body.assignee });
      return itemView(item, ctx.clock.now(), (await getTopupSettings(ctx.db, req.params.tenantId)).fourEyesThresholdFen);
    },
  },
  {
    method: 'POST', url: '/tenants/:tenantId/review-items/:itemId/decision', permission: 'review.decide', action: 'review_decide', summary: 'Decide credit, refund or reject (at or above the four-eyes threshold: a proposal)',
    schema: { params: TItem, body: Type.Object({ decision: Type.Enum(['credit', 'refund', 'reject']), note: Note }, { additionalProperties: false }) },
    handler: async (ctx, req, _reply, who) => {
      const item = await decideReviewItem(ctx, { tenantId: req.params.tenantId, itemId: req.params.itemId, operatorId: who.operator.id, decision: req.body.decision, ...(req.body.note !== undefined ? { note: req.body.note } : {}) });
      return itemView(item, ctx.clock.now(), (await getTopupSettings(ctx.db, req.params.tenantId)).fourEyesThresholdFen);
    },
  },
  {
    method: 'POST', url: '/tenants/:tenantId/review-items/:itemId/approval', permission: 'review.decide', action: 'review_approve', summary: "Approve another reviewer's proposal (never one's own)",
    schema: { params: TItem },
    handler: async (ctx, req, _reply, who) => {
      const item = await approveReviewDecision(ctx, { tenantId: req.params.tenantId, itemId: req.params.itemId, operatorId: who.operator.id });
      return itemView(item, ctx.clock.now(), (await getTopupSettings(ctx.db, req.params.tenantId)).fourEyesThresholdFen);
    },
  },
  {
    method: 'POST', url: '/tenants/:tenantId/review-items/:itemId/decline', permission: 'review.decide', action: 'review_decline', summary: "Send another reviewer's proposal back",
    schema: { params: TItem, body: Type.Object({ note: Note }, { additionalProperties: false }) },
    handler: async (ctx, req, _reply, who) => {
      const item = await declineReviewDecision(ctx, { tenantId: req.params.tenantId, itemId: req.params.itemId, operatorId: who.operator.id, ...(req.body?.note !== undefined ? { note: req.body.note } : {}) });
      return itemView(item, ctx.clock.now(), (await getTopupSettings(ctx.db, req.params.tenantId)).fourEyesThresholdFen);
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/risk-events', permission: 'risk.read', action: 'risk_list', summary: 'Risk events (freezes) with filters and SLA timers',
    schema: {
      params: T,
      querystring: Type.Object({
        status: Type.Optional(Type.Enum(['open', 'reviewed'])),
        subjectKind: Type.Optional(Type.Enum(['user', 'card'])),
        subjectId: Type.Optional(Type.String({ maxLength: 200 })),
        minScore: Type.Optional(Type.Number({ minimum: 0 })),
        from: Type.Optional(DateTime),
        to: Type.Optional(DateTime),
        limit: Limit,
      }),
    },
    handler: async (ctx, req) => {
      const q = req.query;
      if ((q.subjectKind === undefined) !== (q.subjectId === undefined)) throw AppError.validation([{ field: 'subjectId', message: 'subjectKind and subjectId go together' }]);
      const [events, tenant] = await Promise.all([
        listRiskEvents(ctx.db, { tenantId: req.params.tenantId, ...(q.status ? { status: q.status } : {}), ...(q.subjectKind ? { subject: { kind: q.subjectKind, id: q.subjectId } } : {}), limit: 100 }),
        requireTenant(ctx.db, req.params.tenantId),
      ]);
      const from = q.from ? Date.parse(q.from) : -Infinity;
      const to = q.to ? Date.parse(q.to) : Infinity;
      const now = ctx.clock.now();
      const items = events
        .filter((e) => (q.minScore === undefined || e.score >= q.minScore) && e.createdAt.getTime() >= from && e.createdAt.getTime() < to)
        .slice(0, q.limit ?? 50)
        .map((e) => riskView(e, now, tenant.policy.exceptions.manualReviewMinutes));
      return { items };
    },
  },
  {
    method: 'POST', url: '/tenants/:tenantId/risk-events/:eventId/decision', permission: 'risk.decide', action: 'risk_decide', summary: 'Unfreeze the subject, or keep the freeze; either closes the event',
    schema: { params: Type.Object({ tenantId: TenantId, eventId: Id }), body: Type.Object({ decision: Type.Enum(['unfreeze', 'keep']), note: Note }, { additionalProperties: false }) },
    handler: async (ctx, req, _reply, who) => {
      const { tenantId, eventId } = req.params;
      const open = await listRiskEvents(ctx.db, { tenantId, status: 'open', limit: 100 });
      const event = open.find((e) => e.id === eventId);
      if (!event) throw new AppError('not_found', 'no open risk event with this id');
      const now = ctx.clock.now();
      const lifted = await inTx(ctx.db, async (tx) => {
        let liftedFreeze: string | null = null;
        if (req.body.decision === 'unfreeze') {
          const f = await activeFreeze(tx, { tenantId, ...(event.subject.kind === 'user' ? { userId: event.subject.id } : { cardId: event.subject.id }), now });
          if (f && (await liftFreeze(tx, { tenantId, freezeId: f.freezeId, operatorId: who.operator.id, now }))) liftedFreeze = f.freezeId;
        }
        if (!(await reviewRiskEvent(tx, { tenantId, eventId, operatorId: who.operator.id, now }))) throw new AppError('conflict', 'the event was reviewed meanwhile');
        await recordAudit(tx, { tenantId, actor: { kind: 'operator', id: who.operator.id }, action: 'admin.risk_decided', subject: { kind: 'risk_event', id: eventId }, outcome: 'ok', detail: { decision: req.body.decision, freezeId: liftedFreeze }, requestId: req.id, at: now });
        return liftedFreeze;
      });
      return { eventId, decision: req.body.decision, liftedFreezeId: lifted, status: 'reviewed' };
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/reconciliation/runs', permission: 'recon.read', action: 'recon_list', summary: 'Daily reconciliation runs, newest first',
    schema: { params: T, querystring: Type.Object({ limit: Limit, billDate: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })) }) },
    handler: async (ctx, req) => ({ items: await listReconRuns(ctx.db, req.params.tenantId, { ...(req.query.limit ? { limit: req.query.limit } : {}), ...(req.query.billDate ? { billDate: req.query.billDate } : {}) }) }),
  },
  {
    method: 'POST', url: '/tenants/:tenantId/reconciliation/runs', permission: 'recon.run', action: 'recon_run', summary: "Reconcile a day now (downloads the day's WeChat Pay bill)",
    schema: { params: T, body: Type.Object({ billDate: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }) }, { additionalProperties: false }) },
    handler: async (ctx, req, reply) => {
      const run = await reconcileDay(ctx, req.params.tenantId, req.body.billDate);
      reply.code(201);
      return reconRun(ctx.db, req.params.tenantId, run.id);
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/reconciliation/runs/:runId', permission: 'recon.read', action: 'recon_read', summary: 'One run: mismatches and their sums by class',
    schema: { params: Type.Object({ tenantId: TenantId, runId: Id }) },
    handler: async (ctx, req) => reconRun(ctx.db, req.params.tenantId, req.params.runId),
  },
  {
    method: 'GET', url: '/tenants/:tenantId/reconciliation/runs/:runId/mismatches.csv', permission: 'recon.read', action: 'recon_export', summary: "The run's mismatches as CSV",
    schema: { params: Type.Object({ tenantId: TenantId, runId: Id }) },
    handler: async (ctx, req, reply) => {
      const r = await reconRun(ctx.db, req.params.tenantId, req.params.runId);
      const csv = stringify(
        r.mismatches.map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })),
        { header: true, columns: ['class', 'outTradeNo', 'orderId', 'billFen', 'recordedFen', 'action', 'reviewItemId', 'createdAt'] },
      );
      reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="recon-${r.run.tenantId}-${r.run.billDate}-${r.run.id}.csv"`);
      return csv;
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/reconciliation/totals', permission: 'recon.read', action: 'recon_totals', summary: "Where the tenant's top-up money is, and whether it balances",
    schema: { params: T, querystring: Type.Object({ ledger: Type.Optional(Type.Enum(['full'], { description: "also check the ledger's invariants over every account of the tenant (reads every posting)" })) }) },
    handler: async (ctx, req) => {
      await requireTenant(ctx.db, req.params.tenantId);
      return moneyTotals(ctx, req.params.tenantId, { fullLedger: req.query.ledger === 'full' });
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/audit', permission: 'audit.read', action: 'audit_search', summary: "Search the tenant's audit log (newest first) with the chain's verification status",
    schema: {
      params: T,
      querystring: Type.Object({
        action: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.]{0,100}\\*?$', description: 'exact, or a prefix ending in * (admin.review_*)' })),
        actorId: Type.Optional(Type.String({ maxLength: 128 })),
        subjectId: Type.Optional(Type.String({ maxLength: 128 })),
        outcome: Type.Optional(Type.Enum(['ok', 'refused', 'error'])),
        from: Type.Optional(DateTime),
        to: Type.Optional(DateTime),
        cursor: Type.Optional(Type.String({ maxLength: 20 })),
        limit: Limit,
        verify: Type.Optional(Type.Boolean({ default: true })),
      }),
    },
    handler: async (ctx, req) => {
      const q = req.query;
      const page = await searchAudit(ctx.db, {
        tenantId: req.params.tenantId,
        ...(q.action ? { action: q.action } : {}),
        ...(q.actorId ? { actorId: q.actorId } : {}),
        ...(q.subjectId ? { subjectId: q.subjectId } : {}),
        ...(q.outcome ? { outcome: q.outcome } : {}),
        ...(q.from ? { from: new Date(q.from) } : {}),
        ...(q.to ? { to: new Date(q.to) } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
      });
      return { ...page, chain: q.verify === false ? null : await chainStatus(ctx.db, req.params.tenantId) };
    },
  },
  {
    method: 'GET', url: '/tenants/:tenantId/funnel', permission: 'funnel.read', action: 'funnel_read', summary: 'Bill → customer-service funnel (from the contact analytics)',
    schema: { params: T, querystring: Type.Object({ from: DateTime, to: DateTime, segment: Type.Optional(Type.Enum([...SEGMENTS])) }) },
    handler: async (ctx, req) => {
      const from = new Date(req.query.from);
      const to = new Date(req.query.to);
      if (!(from.getTime() < to.getTime()) || to.getTime() - from.getTime() > FUNNEL_MAX_SPAN_MS) throw AppError.validation([{ field: 'from', message: 'from must be before to, at most 366 days apart' }]);
      const r = await funnelReport(ctx.db, { tenantId: req.params.tenantId, from, to, segment: (req.query.segment ?? 'all') as Segment });
      return { ...r, from: r.from.toISOString(), to: r.to.toISOString() };
    },
  },
  {
    method: 'GET', url: '/ops', permission: 'ops.read', action: 'ops_read', summary: 'Instances, queue depth, WeChat token status per app, core circuit breaker',
    handler: async (ctx, _req, _reply, who) => {
      const tenants = (await listTenants(ctx.db)).filter((t) => canActOnTenant(who.operator.tenantId, t.id));
      const tokens = [];
      for (const t of tenants) {
        for (const s of await tokenStats(ctx.db, t.id)) {
          const now = ctx.clock.now().getTime();
          tokens.push({ tenantId: t.id, ...s, expiresAt: iso(s.expiresAt), refreshedAt: iso(s.refreshedAt), valid: s.expiresAt !== null && s.expiresAt.getTime() > now });
        }
      }
      let breaker: unknown = { adapter: 'none' };
      try {
        const core = coreOf(ctx) as unknown as { breaker?: { snapshot?: () => unknown } };
        breaker = core.breaker?.snapshot ? { adapter: 'http', ...(core.breaker.snapshot() as object) } : { adapter: 'builtin', state: 'closed' };
      } catch {
        breaker = { adapter: 'none', state: 'unknown' };
      }
      await heartbeat(ctx);
      return { instances: await instances(ctx), queues: await queueDepth(ctx.db), tokens, coreBreaker: breaker };
    },
  },
  {
    method: 'GET', url: '/operators', permission: 'operators.read', action: 'operators_list', summary: 'Operators the caller may see',
    handler: async (ctx, _req, _reply, who) => ({ items: await listOperators(ctx.db, who.operator.tenantId ?? undefined) }),
  },
  {
    method: 'POST', url: '/operators', permission: 'operators.manage', action: 'operator_create', summary: 'Create an operator; the TOTP secret is answered once',
    schema: {
      body: Type.Object(
        {
          tenantId: Type.Union([TenantId, Type.Null()]),
          username: Type.String({ maxLength: 40 }),
          displayName: Type.String({ maxLength: 64 }),
          role: Type.Enum([...OPERATOR_ROLES]),
          password: Type.String({ maxLength: 128 }),
        },
        { additionalProperties: false },
      ),
    },
    handler: async (ctx, req, reply, who) => {
      const b = req.body;
      // A tenant's admin creates operators of that tenant only; platform operators come from a platform admin.
      if (!(who.operator.tenantId === null || b.tenantId === who.operator.tenantId)) throw new AppError('forbidden', 'operators of another tenant or of the platform are not yours to create');
      const created = await createOperator(ctx, { tenantId: b.tenantId, username: b.username, displayName: b.displayName, role: b.role, password: b.password, createdBy: who.operator.id });
      reply.code(201);
      return created;
    },
  },
  {
    method: 'POST', url: '/operators/:operatorId/disable', permission: 'operators.manage', action: 'operator_disable', summary: 'Disable an operator and end their sessions',
    schema: { params: Type.Object({ operatorId: Id }) },
    handler: async (ctx, req, _reply, who) => {
      const target = await getOperatorRow(ctx.db, req.params.operatorId);
      if (!target || !(who.operator.tenantId === null || target.tenant_id === who.operator.tenantId)) throw new AppError('not_found', 'no such operator');
      if (target.id === who.operator.id) throw new AppError('conflict', 'an operator cannot disable themselves');
      return disableOperator(ctx, { operatorId: target.id, by: who.operator.id, auditTenant: target.tenant_id ?? PLATFORM_AUDIT_TENANT });
    },
  },
];

/** Every admin route with the permission it needs (the RBAC matrix test walks this). */
export const ADMIN_ROUTES: readonly { method: Method; url: string; permission: Permission }[] = [
  { method: 'POST', url: `${ADMIN_PREFIX}/session`, permission: 'session' },
  ...ROUTES.map((r) => ({ method: r.method, url: `${ADMIN_PREFIX}${r.url}`, permission: r.permission })),
];

function permissionsOf(op: Operator): Permission[] {
  return (Object.keys(PERMISSION_LIST) as Permission[]).filter((p) => isAllowed(op.role, p));
}

function settingsView(s: Awaited<ReturnType<typeof getTopupSettings>>) {
  return { ...s, fourEyesThresholdFen: String(s.fourEyesThresholdFen), pausedAt: iso(s.pausedAt) };
}

function secureCookies(ctx: AppContext): string {
  return ctx.config.publicUrl.startsWith('https:') ? '; Secure' : '';
}

function setCookies(ctx: AppContext, reply: FastifyReply, token: string, csrf: string): void {
  const maxAge = Math.floor(SESSION_ABSOLUTE_MS / 1000);
  reply.header('set-cookie', [
    `${SESSION_COOKIE}=${token}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secureCookies(ctx)}`,
    // Readable by the console's script, which echoes it in X-CSRF-Token (double submit).
    `${CSRF_COOKIE}=${csrf}; Path=/admin; SameSite=Strict; Max-Age=${maxAge}${secureCookies(ctx)}`,
  ]);
}

function clearCookies(ctx: AppContext, reply: FastifyReply): void {
  reply.header('set-cookie', [
    `${SESSION_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0${secureCookies(ctx)}`,
    `${CSRF_COOKIE}=; Path=/admin; SameSite=Strict; Max-Age=0${secureCookies(ctx)}`,
  ]);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The preHandler of every route but sign-in: session, CSRF on unsafe methods, role, tenant scope. */
function guard(ctx: AppContext, permission: Permission) {
  return async (req: FastifyRequest): Promise<void> => {
    const who = await resolveSession(ctx, cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (!who) throw new AppError('unauthenticated', 'sign in to the console first');
    req.admin = who;
    if (!SAFE_METHODS.has(req.method)) {
      const header = req.headers[CSRF_HEADER];
      if (!csrfOk(who, typeof header === 'string' ? header : undefined, cookieValue(req.headers.cookie, CSRF_COOKIE))) {
        throw new AppError('forbidden', `send the ${CSRF_COOKIE} cookie's value in the ${CSRF_HEADER} header`, { reason: 'csrf' });
      }
    }
    if (!isAllowed(who.operator.role, permission)) throw new AppError('forbidden', `the ${who.operator.role} role may not do this`, { reason: 'role' });
    const tenantId = (req.params as { tenantId?: string } | undefined)?.tenantId;
    if (tenantId !== undefined && !canActOnTenant(who.operator.tenantId, tenantId)) throw new AppError('forbidden', 'not your tenant', { reason: 'tenant' });
    // After the scope check, so nobody learns which other tenants exist.
    if (tenantId !== undefined) await requireTenant(ctx.db, tenantId);
  };
}

/** Registers the console API on `app` (an encapsulated scope under ADMIN_PREFIX). */
export async function registerAdminRoutes(app: App, ctx: AppContext): Promise<void> {
  await app.register(
    async (scope: App) => {
      // One audit entry per authenticated request (reads included: an operator reading a tenant's data is on record).
      // In onSend, so the entry is written before the client has the answer (an auditor reading right after finds it).
      scope.addHook('onSend', async (req, reply, payload) => {
        const who = req.admin;
        const action = (req.routeOptions.config as { auditAction?: string } | undefined)?.auditAction;
        if (!who || !action) return payload;
        const status = reply.statusCode;
        const tenantId = (req.params as { tenantId?: string } | undefined)?.tenantId;
        try {
          await recordAudit(ctx.db, {
            tenantId: tenantId && canActOnTenant(who.operator.tenantId, tenantId) ? tenantId : (who.operator.tenantId ?? PLATFORM_AUDIT_TENANT),
            actor: { kind: 'operator', id: who.operator.id },
            action: `admin.${action}`,
            outcome: status < 400 ? 'ok' : status === 401 || status === 403 ? 'refused' : 'error',
            detail: { method: req.method, route: req.routeOptions.url ?? '', status, ...(tenantId ? { tenantId } : {}) },
            ...(req.ip ? { ip: req.ip } : {}),
            requestId: req.id,
            at: ctx.clock.now(),
          });
        } catch (err) {
          req.log.error({ err }, 'could not audit an admin request');
        }
        return payload;
      });

      scope.post(
        '/session',
        {
          schema: {
            tags: ['admin'],
            summary: 'Sign in with username, password and TOTP code; sets the session and CSRF cookies',
            body: Type.Object({ username: Type.String({ maxLength: 64 }), password: Type.String({ maxLength: 128 }), totp: Type.String({ maxLength: 10 }) }, { additionalProperties: false }),
          },
        },
        async (req, reply) => {
          const b = req.body as { username: string; password: string; totp: string };
          const s = await signIn(ctx, { username: b.username, password: b.password, totp: b.totp, ...(req.ip ? { ip: req.ip } : {}), requestId: req.id });
          setCookies(ctx, reply, s.token, s.csrfToken);
          reply.code(201);
          return { operator: s.operator, csrfToken: s.csrfToken, expiresAt: s.expiresAt.toISOString(), permissions: permissionsOf(s.operator) };
        },
      );

      for (const r of ROUTES) {
        scope.route({
          method: r.method,
          url: r.url,
          config: { auditAction: r.action },
          schema: { tags: ['admin'], summary: `${r.summary} (${r.permission})`, ...(r.schema ?? {}) },
          // Before body validation: a caller without the right gets 401/403 whatever they sent.
          preValidation: guard(ctx, r.permission),
          handler: async (req, reply) => r.handler(ctx, req as never, reply, req.admin!),
        });
      }
    },
    { prefix: ADMIN_PREFIX },
  );
}

