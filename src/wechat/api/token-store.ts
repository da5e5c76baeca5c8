// SQL of wechat_access_tokens: read the shared token, claim the refresh lease, store a new token under it.
import { sql, type Selectable } from 'kysely';
import type { Db, Tx } from '../../db/tx.ts';
import type { WechatAccessTokenRow } from '../wechat.table.ts';
import type { WechatAppKind } from './apps.ts';

export interface TokenKey {
  tenantId: string;
  kind: WechatAppKind;
  appId: string;
}

export type TokenRow = Selectable<WechatAccessTokenRow>;

function whereKey<QB extends { where: (...a: any[]) => QB }>(qb: QB, key: TokenKey): QB {
  return qb.where('tenant_id', '=', key.tenantId).where('kind', '=', key.kind).where('app_id', '=', key.appId);
}

export async function readTokenRow(db: Db | Tx, key: TokenKey): Promise<TokenRow | undefined> {
  return whereKey(db.selectFrom('wechat_access_tokens').selectAll(), key).executeTakeFirst();
}

/** The app's row, created empty on first use (concurrent creators: one insert wins, the rest do nothing). */
export async function ensureTokenRow(tx: Tx, key: TokenKey, now: Date): Promise<void> {
  await tx
    .insertInto('wechat_access_tokens')
    .values({ tenant_id: key.tenantId, kind: key.kind, app_id: key.appId, token_enc: null, expires_at: null, lease_holder: null, lease_until: null, last_errcode: null, last_error_at: null, refreshed_at: null, created_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'kind', 'app_id']).doNothing())
    .execute();
}

/**
 * Claims the right to fetch the next token: only when nobody holds an unexpired lease and the row
 * is still at `generation` (nobody stored a newer token since the caller looked). One UPDATE, so
 * PostgreSQL lets exactly one of several concurrent claimers through.
 */
export async function claimLease(tx: Tx, key: TokenKey, c: { holder: string; now: Date; leaseUntil: Date; generation: number }): Promise<boolean> {
  const row = await whereKey(tx.updateTable('wechat_access_tokens').set({ lease_holder: c.holder, lease_until: c.leaseUntil }), key)
    .where('generation', '=', c.generation)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', c.now)]))
    .returning('generation')
    .executeTakeFirst();
  return row !== undefined;
}

/** Stores a fetched token and frees the lease; nothing (undefined) if the lease was lost meanwhile. */
export async function storeToken(
  tx: Tx,
  key: TokenKey,
  t: { holder: string; tokenEnc: string; expiresAt: Date; now: Date; forced: boolean },
): Promise<number | undefined> {
  const row = await whereKey(
    tx.updateTable('wechat_access_tokens').set({
      token_enc: t.tokenEnc,
      expires_at: t.expiresAt,
      generation: sql<number>`generation + 1`,
      forced_refreshes: t.forced ? sql<number>`forced_refreshes + 1` : sql<number>`forced_refreshes`,
      refreshed_at: t.now,
      lease_holder: null,
      lease_until: null,
      last_errcode: null,
      last_error_at: null,
    }),
    key,
  )
    .where('lease_holder', '=', t.holder)
    .returning('generation')
    .executeTakeFirst();
  return row?.generation;
}

/** Frees the lease after a failed fetch and records the errcode, so instances waiting on it stop waiting. */
export async function releaseLease(tx: Tx, key: TokenKey, r: { holder: string; errcode: number; now: Date }): Promise<void> {
  await whereKey(
    tx.updateTable('wechat_access_tokens').set({ lease_holder: null, lease_until: null, last_errcode: r.errcode, last_error_at: r.now }),
    key,
  )
    .where('lease_holder', '=', r.holder)
    .execute();
}

export interface TokenStats {
  kind: WechatAppKind;
  appId: string;
  /** Tokens fetched and stored for this app so far. */
  refreshes: number;
  forcedRefreshes: number;
  expiresAt: Date | null;
  refreshedAt: Date | null;
}

/** Refresh counts of a tenant's apps (no token values): for metrics, operators and tests. */
export async function tokenStats(db: Db | Tx, tenantId: string): Promise<TokenStats[]> {
  const rows = await db
    .selectFrom('wechat_access_tokens')
    .select(['kind', 'app_id', 'generation', 'forced_refreshes', 'expires_at', 'refreshed_at'])
    .where('tenant_id', '=', tenantId)
    .orderBy('kind')
    .execute();
  return rows.map((r) => ({
    kind: r.kind as WechatAppKind,
    appId: r.app_id,
    refreshes: Number(r.generation),
    forcedRefreshes: Number(r.forced_refreshes),
    expiresAt: r.expires_at,
    refreshedAt: r.refreshed_at,
  }));
}
