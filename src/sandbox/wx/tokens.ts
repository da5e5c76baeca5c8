// The sandbox's access_token authority: classic, stable and WeCom tokens with the platform's validity and invalidation rules.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { AppContext } from '../../app/context.ts';
import { inTx, type Tx } from '../../db/tx.ts';
import type { SandboxApp } from './apps.ts';
import { WxFailure } from './errors.ts';
import type { SandboxTokenEndpoint } from './sandbox-wx.table.ts';

/** Every token lives 2 hours (WECHAT-VECTORS.md §2.1). */
export const TOKEN_LIFETIME_S = 7200;
/** A classic token superseded by a newer fetch still works this long ("新老 access_token 5 分钟内都可用"). */
export const SUPERSEDED_GRACE_MS = 5 * 60_000;
/** stable_token renews in its last 5 minutes, so any token it answers is valid ≥ 300 s (§2.2). */
export const STABLE_RENEW_AHEAD_MS = 5 * 60_000;
/** Forced stable refreshes: at least 30 s apart, 20 a day (§2.2). */
export const STABLE_FORCE_SPACING_MS = 30_000;
export const STABLE_FORCE_PER_DAY = 20;
const DAY_MS = 24 * 3600_000;
/** Most token rows a listing answers. */
export const TOKEN_LIST_MAX = 100;

export interface IssuedToken {
  access_token: string;
  expires_in: number;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
/** 128 URL-safe characters: the length real tokens have. */
const newToken = () => randomBytes(96).toString('base64url');

/** Token issues for one tenant run one at a time, as the platform serialises them per app. */
async function lockTenant(tx: Tx, tenantId: string): Promise<void> {
  await sql`select id from tenants where id = ${tenantId} for update`.execute(tx);
}

async function insertToken(ctx: AppContext, tx: Tx, app: SandboxApp, endpoint: SandboxTokenEndpoint, now: Date, forced = false): Promise<IssuedToken> {
  const token = newToken();
  await tx
    .insertInto('sandbox_wx_tokens')
    .values({
      token_hash: hashToken(token),
      token_enc: ctx.crypto.encrypt(token),
      tenant_id: app.tenantId,
      app_id: app.appId,
      kind: app.kind,
      endpoint,
      forced,
      issued_at: now,
      expires_at: new Date(now.getTime() + TOKEN_LIFETIME_S * 1000),
      invalid_after: null,
    })
    .execute();
  return { access_token: token, expires_in: TOKEN_LIFETIME_S };
}

/** The newest token of the endpoint that still works now. */
async function currentToken(tx: Tx, appId: string, endpoint: SandboxTokenEndpoint, now: Date) {
  return tx
    .selectFrom('sandbox_wx_tokens')
    .selectAll()
    .where('app_id', '=', appId)
    .where('endpoint', '=', endpoint)
    .where('expires_at', '>', now)
    .where((eb) => eb.or([eb('invalid_after', 'is', null), eb('invalid_after', '>', now)]))
    .orderBy('issued_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

async function answerAgain(ctx: AppContext, tx: Tx, row: { token_hash: string; token_enc: string; expires_at: Date }, now: Date): Promise<IssuedToken> {
  await tx.updateTable('sandbox_wx_tokens').set({ fetch_count: sql<number>`fetch_count + 1` }).where('token_hash', '=', row.token_hash).execute();
  return { access_token: ctx.crypto.decrypt(row.token_enc), expires_in: Math.floor((row.expires_at.getTime() - now.getTime()) / 1000) };
}

/** Sets `invalid_after` to `at` on the app's working tokens of `endpoint` (other than `except`), never later than it was. */
async function supersede(tx: Tx, appId: string, endpoint: SandboxTokenEndpoint, now: Date, at: Date, except?: string): Promise<number> {
  let q = tx
    .updateTable('sandbox_wx_tokens')
    .set({ invalid_after: at })
    .where('app_id', '=', appId)
    .where('endpoint', '=', endpoint)
    .where('expires_at', '>', now)
    .where((eb) => eb.or([eb('invalid_after', 'is', null), eb('invalid_after', '>', at)]));
  if (except) q = q.where('token_hash', '!=', except);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** GET /cgi-bin/token: always a new token; the previous ones stop working 5 minutes later. */
export async function issueClassicToken(ctx: AppContext, app: SandboxApp): Promise<IssuedToken> {
  return inTx(ctx.db, async (tx) => {
    await lockTenant(tx, app.tenantId);
    const now = ctx.clock.now();
    const issued = await insertToken(ctx, tx, app, 'classic', now);
    await supersede(tx, app.appId, 'classic', now, new Date(now.getTime() + SUPERSEDED_GRACE_MS), hashToken(issued.access_token));
    return issued;
  });
}

/**
 * POST /cgi-bin/stable_token: the same token until its last 5 minutes (then a new one, the old
 * one working to its end); `force_refresh` issues a new one and kills the old at once, at most
 * 20 times a day and 30 s apart. Isolated from classic tokens.
 */
export async function issueStableToken(ctx: AppContext, app: SandboxApp, forceRefresh: boolean): Promise<IssuedToken> {
  return inTx(ctx.db, async (tx) => {
    await lockTenant(tx, app.tenantId);
    const now = ctx.clock.now();
    if (!forceRefresh) {
      const current = await currentToken(tx, app.appId, 'stable', now);
      if (current && current.expires_at.getTime() - now.getTime() > STABLE_RENEW_AHEAD_MS) return answerAgain(ctx, tx, current, now);
      return insertToken(ctx, tx, app, 'stable', now);
    }
    const forced = await tx
      .selectFrom('sandbox_wx_tokens')
      .select([(eb) => eb.fn.countAll<string>().as('n'), (eb) => eb.fn.max('issued_at').as('last')])
      .where('app_id', '=', app.appId)
      .where('endpoint', '=', 'stable')
      .where('forced', '=', true)
      .where('issued_at', '>', new Date(now.getTime() - DAY_MS))
      .executeTakeFirstOrThrow();
    const last = forced.last ? new Date(forced.last as unknown as string | Date) : undefined;
    if (last && now.getTime() - last.getTime() < STABLE_FORCE_SPACING_MS) throw new WxFailure(45011);
    if (Number(forced.n) >= STABLE_FORCE_PER_DAY) throw new WxFailure(45009);
    await supersede(tx, app.appId, 'stable', now, now);
    return insertToken(ctx, tx, app, 'stable', now, true);
  });
}

/** WeCom gettoken: the same token while it is valid, a new one after it expires (WECHAT-VECTORS.md §5.1). */
export async function issueWecomToken(ctx: AppContext, app: SandboxApp): Promise<IssuedToken> {
  return inTx(ctx.db, async (tx) => {
    await lockTenant(tx, app.tenantId);
    const now = ctx.clock.now();
    const current = await currentToken(tx, app.appId, 'wecom', now);
    return current ? answerAgain(ctx, tx, current, now) : insertToken(ctx, tx, app, 'wecom', now);
  });
}

export type TokenStatus =
  | { status: 'valid'; tenantId: string; appId: string; kind: 'oa' | 'miniProgram' | 'wecom' }
  | { status: 'expired' | 'invalid' };

/** What the platform thinks of a presented token: 42001 when expired, 40001 when unknown or superseded. */
export async function checkSandboxToken(ctx: AppContext, accessToken: string): Promise<TokenStatus> {
  if (typeof accessToken !== 'string' || accessToken.length === 0 || accessToken.length > 512) return { status: 'invalid' };
  const row = await ctx.db.selectFrom('sandbox_wx_tokens').selectAll().where('token_hash', '=', hashToken(accessToken)).executeTakeFirst();
  if (!row) return { status: 'invalid' };
  const now = ctx.clock.now().getTime();
  if (row.invalid_after && row.invalid_after.getTime() <= now) return { status: 'invalid' };
  if (row.expires_at.getTime() <= now) return { status: 'expired' };
  return { status: 'valid', tenantId: row.tenant_id, appId: row.app_id, kind: row.kind };
}

/** Which app an access_token issued by the sandbox belongs to, if it is currently valid. */
export async function verifySandboxToken(ctx: AppContext, accessToken: string): Promise<{ tenantId: string; appId: string; kind: 'oa' | 'miniProgram' | 'wecom' } | undefined> {
  const s = await checkSandboxToken(ctx, accessToken);
  return s.status === 'valid' ? { tenantId: s.tenantId, appId: s.appId, kind: s.kind } : undefined;
}

/** Fault switch: every working token of the app stops working now (a staging server refreshed, or WeCom revoked early). */
export async function revokeSandboxTokens(ctx: AppContext, appId: string): Promise<number> {
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    let n = 0;
    for (const endpoint of ['classic', 'stable', 'wecom'] as const) n += await supersede(tx, appId, endpoint, now, now);
    return n;
  });
}

export interface TokenFetches {
  appId: string;
  /** Calls to the token endpoints that answered a token, all endpoints together. */
  fetches: number;
  tokens: { endpoint: SandboxTokenEndpoint; forced: boolean; issuedAt: Date; expiresAt: Date; invalidAfter: Date | null; fetchCount: number }[];
}

/** The token endpoint's record for an app, newest first, without token values. */
export async function listTokenFetches(ctx: AppContext, appId: string, limit = TOKEN_LIST_MAX): Promise<TokenFetches> {
  const total = await ctx.db
    .selectFrom('sandbox_wx_tokens')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('fetch_count'), sql<string>`0`).as('n'))
    .where('app_id', '=', appId)
    .executeTakeFirstOrThrow();
  const rows = await ctx.db
    .selectFrom('sandbox_wx_tokens')
    .select(['endpoint', 'forced', 'issued_at', 'expires_at', 'invalid_after', 'fetch_count'])
    .where('app_id', '=', appId)
    .orderBy('issued_at', 'desc')
    .limit(Math.min(limit, TOKEN_LIST_MAX))
    .execute();
  return {
    appId,
    fetches: Number(total.n),
    tokens: rows.map((r) => ({ endpoint: r.endpoint, forced: r.forced, issuedAt: r.issued_at, expiresAt: r.expires_at, invalidAfter: r.invalid_after, fetchCount: Number(r.fetch_count) })),
  };
}
