// Who answers bills: per-tenant routing settings (schedule, handle time, notice version), the agents, their loads, and the agent API's tenant tokens.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.ts';
import { AppError, type FieldError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { NOTICE_VERSION_PATTERN } from '../audit/index.ts';
import { newId } from '../shared/ids.ts';
import {
  AGENT_LOAD_WINDOW_MS,
  AGENTS_PER_TENANT_MAX,
  DEFAULT_AGENT_CAPACITY,
  DEFAULT_AVG_HANDLE_MINUTES,
  DEFAULT_NOTICE_VERSION,
  DEFAULT_SCHEDULE,
  isBillKind,
  scheduleProblems,
  type AgentCandidate,
  type Schedule,
} from './policy.ts';

export interface ContactSettings {
  schedule: Schedule;
  avgHandleMinutes: number;
  noticeVersion: string;
}

export interface AgentConfig {
  /** The WeCom member userid. */
  userId: string;
  displayName: string;
  title?: string;
  /** Bill kinds taken; omitted or empty: all. */
  billKinds?: string[];
  capacity?: number;
  priority?: number;
  active?: boolean;
}

export interface Agent extends AgentCandidate {
  displayName: string;
  title: string;
}

const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
export const parseJson = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

export async function getContactSettings(db: Db | Tx, tenantId: string): Promise<ContactSettings> {
  const r = await db.selectFrom('contact_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  if (!r) return { schedule: DEFAULT_SCHEDULE, avgHandleMinutes: DEFAULT_AVG_HANDLE_MINUTES, noticeVersion: DEFAULT_NOTICE_VERSION };
  return { schedule: parseJson(r.schedule) as Schedule, avgHandleMinutes: r.avg_handle_minutes, noticeVersion: r.notice_version ?? DEFAULT_NOTICE_VERSION };
}

/** Sets the tenant's routing settings (what is omitted keeps its value or default). */
export async function setContactSettings(ctx: AppContext, tenantId: string, input: Partial<ContactSettings>): Promise<ContactSettings> {
  const errors: FieldError[] = [];
  if (input.schedule !== undefined) errors.push(...scheduleProblems(input.schedule));
  if (input.avgHandleMinutes !== undefined && (!Number.isInteger(input.avgHandleMinutes) || input.avgHandleMinutes < 1 || input.avgHandleMinutes > 240)) {
    errors.push({ field: 'avgHandleMinutes', message: 'must be an integer from 1 to 240' });
  }
  if (input.noticeVersion !== undefined && !NOTICE_VERSION_PATTERN.test(input.noticeVersion)) errors.push({ field: 'noticeVersion', message: 'is not a notice version' });
  if (errors.length > 0) throw AppError.validation(errors);
  return inTx(ctx.db, async (tx) => {
    const next = { ...(await getContactSettings(tx, tenantId)), ...input };
    const values = {
      schedule: JSON.stringify({ weekly: next.schedule.weekly, closedDates: next.schedule.closedDates }),
      avg_handle_minutes: next.avgHandleMinutes,
      notice_version: next.noticeVersion,
      updated_at: ctx.clock.now(),
    };
    await tx
      .insertInto('contact_settings')
      .values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values))
      .execute();
    return next;
  });
}

function agentProblems(list: AgentConfig[]): FieldError[] {
  const errors: FieldError[] = [];
  if (!Array.isArray(list) || list.length > AGENTS_PER_TENANT_MAX) return [{ field: 'agents', message: `must be at most ${AGENTS_PER_TENANT_MAX} agents` }];
  const seen = new Set<string>();
  list.forEach((a, i) => {
    const f = (n: string) => `agents.${i}.${n}`;
    if (typeof a.userId !== 'string' || !USER_ID.test(a.userId)) errors.push({ field: f('userId'), message: 'is not a WeCom userid' });
    else if (seen.has(a.userId)) errors.push({ field: f('userId'), message: 'is listed twice' });
    else seen.add(a.userId);
    if (typeof a.displayName !== 'string' || a.displayName.length < 1 || a.displayName.length > 32) errors.push({ field: f('displayName'), message: 'must be 1–32 characters' });
    if (a.title !== undefined && (typeof a.title !== 'string' || a.title.length > 32)) errors.push({ field: f('title'), message: 'must be at most 32 characters' });
    if (a.billKinds !== undefined && (!Array.isArray(a.billKinds) || !a.billKinds.every(isBillKind))) errors.push({ field: f('billKinds'), message: 'lists unknown bill kinds' });
    if (a.capacity !== undefined && (!Number.isInteger(a.capacity) || a.capacity < 1 || a.capacity > 1000)) errors.push({ field: f('capacity'), message: 'must be an integer from 1 to 1000' });
    if (a.priority !== undefined && !Number.isInteger(a.priority)) errors.push({ field: f('priority'), message: 'must be an integer' });
  });
  return errors;
}

/** Replaces the tenant's agent list: the listed agents are upserted, the others deactivated (their history stays). */
export async function configureContactAgents(ctx: AppContext, tenantId: string, agents: AgentConfig[]): Promise<void> {
  const errors = agentProblems(agents);
  if (errors.length > 0) throw AppError.validation(errors);
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    await tx.updateTable('contact_agents').set({ active: false, updated_at: now }).where('tenant_id', '=', tenantId).execute();
    for (const a of agents) {
      const values = {
        display_name: a.displayName,
        title: a.title ?? '',
        bill_kinds: JSON.stringify(a.billKinds ?? []),
        capacity: a.capacity ?? DEFAULT_AGENT_CAPACITY,
        priority: a.priority ?? 0,
        active: a.active ?? true,
        updated_at: now,
      };
      await tx
        .insertInto('contact_agents')
        .values({ tenant_id: tenantId, user_id: a.userId, ...values, last_assigned_at: null, created_at: now })
        .onConflict((oc) => oc.columns(['tenant_id', 'user_id']).doUpdateSet(values))
        .execute();
    }
  });
}

/**
 * The tenant's agents with their loads. With `tx`, the agent rows are locked: two requests routed
 * at once see each other's assignment, so capacity holds.
 */
export async function agentsWithLoad(db: Db | Tx, tenantId: string, now: Date, opts: { lock?: boolean } = {}): Promise<Agent[]> {
  let q = db.selectFrom('contact_agents').selectAll().where('tenant_id', '=', tenantId).orderBy('user_id').limit(AGENTS_PER_TENANT_MAX);
  if (opts.lock) q = q.forUpdate();
  const rows = await q.execute();
  if (rows.length === 0) return [];
  const since = new Date(now.getTime() - AGENT_LOAD_WINDOW_MS);
  const loads = await sql<{ agent_user_id: string; n: bigint | string }>`
    select agent_user_id, count(*) as n from contact_requests
    where tenant_id = ${tenantId} and agent_user_id is not null
      and ((status in ('creating', 'pending') and expires_at > ${now}) or (status = 'added' and added_at > ${since}))
    group by agent_user_id`.execute(db);
  const loadOf = new Map(loads.rows.map((r) => [r.agent_user_id, Number(r.n)]));
  return rows.map((r) => ({
    userId: r.user_id,
    displayName: r.display_name,
    title: r.title,
    billKinds: (parseJson(r.bill_kinds) as string[]) ?? [],
    capacity: r.capacity,
    priority: r.priority,
    active: r.active,
    lastAssignedAt: r.last_assigned_at,
    load: loadOf.get(r.user_id) ?? 0,
  }));
}

export async function touchAgent(tx: Tx, tenantId: string, userId: string, now: Date): Promise<void> {
  await tx.updateTable('contact_agents').set({ last_assigned_at: now }).where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
}

export async function findAgent(db: Db | Tx, tenantId: string, userId: string): Promise<{ displayName: string; title: string } | undefined> {
  const r = await db.selectFrom('contact_agents').select(['display_name', 'title']).where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
  return r ? { displayName: r.display_name, title: r.title } : undefined;
}

// ---------- the agent API's tokens ----------

const AGENT_TOKEN_PATTERN = /^csa_[A-Za-z0-9_-]{43}$/;
const hashToken = (t: string) => createHash('sha256').update(t).digest('hex');

/**
 * A bearer token for the agent API of one tenant (until the operator console issues per-agent
 * credentials): shown once, stored as SHA-256. Give it to the tenant's CS tooling only.
 */
export async function issueAgentToken(ctx: AppContext, tenantId: string, label: string): Promise<{ tokenId: string; token: string }> {
  if (typeof label !== 'string' || label.length > 64) throw AppError.validation([{ field: 'label', message: 'must be at most 64 characters' }]);
  const token = `csa_${randomBytes(32).toString('base64url')}`;
  const tokenId = newId('cst');
  await ctx.db.insertInto('contact_agent_tokens').values({ id: tokenId, tenant_id: tenantId, token_hash: hashToken(token), label, created_at: ctx.clock.now(), revoked_at: null }).execute();
  return { tokenId, token };
}

export async function revokeAgentToken(ctx: AppContext, tokenId: string): Promise<boolean> {
  const r = await ctx.db.updateTable('contact_agent_tokens').set({ revoked_at: ctx.clock.now() }).where('id', '=', tokenId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Who calls the agent API: a tenant's CS tooling, by token. */
export interface AgentCaller {
  tenantId: string;
  tokenId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    csAgent?: AgentCaller;
  }
}

/** preHandler: `Authorization: Bearer csa_…` → request.csAgent, or unauthenticated. */
export function authenticateAgent(ctx: AppContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const h = request.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer (\S+)$/i.exec(h) : null;
    if (!m || !AGENT_TOKEN_PATTERN.test(m[1]!)) throw new AppError('unauthenticated', 'send Authorization: Bearer <agent token>');
    const r = await ctx.db.selectFrom('contact_agent_tokens').select(['id', 'tenant_id', 'revoked_at']).where('token_hash', '=', hashToken(m[1]!)).executeTakeFirst();
    if (!r || r.revoked_at) throw new AppError('unauthenticated', 'the agent token is unknown or revoked');
    request.csAgent = { tenantId: r.tenant_id, tokenId: r.id };
  };
}

export function agentOf(request: FastifyRequest): AgentCaller {
  if (!request.csAgent) throw new AppError('unauthenticated');
  return request.csAgent;
}
