// The shared access_token: one per app in the database; one instance at a time fetches a new one under a lease, the rest re-read.
import { Counter } from 'prom-client';
import type { AppContext } from '../../app/context.ts';
import { inTx } from '../../db/tx.ts';
import { appSecretsOf, type AppSecrets, type WechatApp, type WechatAppKind } from './apps.ts';
import { unavailable, WechatApiError } from './errors.ts';
import { wechatRequest, type Json } from './http.ts';
import { tokenUse, TOKEN_EXPIRES_IN_MAX_S, TOKEN_EXPIRES_IN_MIN_S } from './policy.ts';
import { claimLease, ensureTokenRow, readTokenRow, releaseLease, storeToken, type TokenKey, type TokenRow } from './token-store.ts';

/** A lease outlives one fetch (WECHAT_API_TIMEOUT_MS) with room to spare; a crashed holder's lease lapses after it. */
export const TOKEN_LEASE_MS = 30_000;
/** How long a caller waits for another instance's fetch before giving up with errcode -1. */
export const TOKEN_WAIT_MAX_MS = 15_000;
/** How often a waiting caller re-reads the row. */
export const TOKEN_POLL_MS = 50;
/** After a failed fetch, a still-valid token is used without asking WeChat again for this long. */
export const TOKEN_FETCH_BACKOFF_MS = 10_000;
/** WeChat allows access tokens of up to 512 characters today and asks for room to grow; refuse anything absurd. */
export const TOKEN_MAX_CHARS = 2048;

/**
 * `classic` (GET /cgi-bin/token) by default: every fetch invalidates the previous token after
 * 5 minutes, which the lease makes harmless. `stable` (POST /cgi-bin/stable_token, normal mode)
 * is supported for operators who prefer it; force mode is never used automatically (§2.3).
 */
export type TokenEndpoint = 'classic' | 'stable';
export const DEFAULT_TOKEN_ENDPOINT: TokenEndpoint = 'classic';

export interface FetchedToken {
  accessToken: string;
  expiresInS: number;
}

/** One call to the platform's token endpoint for the app (no caching, no lease: the caller holds it). */
export async function fetchPlatformToken(
  kind: WechatAppKind,
  secrets: AppSecrets,
  opts: { endpoint?: TokenEndpoint; forceRefresh?: boolean } = {},
): Promise<FetchedToken> {
  let answer: Json;
  if (kind === 'wecom') {
    const q = new URLSearchParams({ corpid: secrets.appId, corpsecret: secrets.secret });
    answer = (await wechatRequest(`${secrets.base}/cgi-bin/gettoken?${q}`, { method: 'GET' })).json;
  } else if ((opts.endpoint ?? DEFAULT_TOKEN_ENDPOINT) === 'stable') {
    answer = (
      await wechatRequest(`${secrets.base}/cgi-bin/stable_token`, {
        method: 'POST',
        body: { grant_type: 'client_credential', appid: secrets.appId, secret: secrets.secret, force_refresh: opts.forceRefresh === true },
      })
    ).json;
  } else {
    const q = new URLSearchParams({ grant_type: 'client_credential', appid: secrets.appId, secret: secrets.secret });
    answer = (await wechatRequest(`${secrets.base}/cgi-bin/token?${q}`, { method: 'GET' })).json;
  }
  const accessToken = answer.access_token;
  const expiresIn = answer.expires_in;
  if (typeof accessToken !== 'string' || accessToken.length === 0 || accessToken.length > TOKEN_MAX_CHARS || !/^[\x21-\x7e]+$/.test(accessToken)) {
    throw unavailable('the token answer has no usable access_token');
  }
  if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < TOKEN_EXPIRES_IN_MIN_S || expiresIn > TOKEN_EXPIRES_IN_MAX_S) {
    throw unavailable('the token answer has no usable expires_in');
  }
  return { accessToken, expiresInS: expiresIn };
}

function refreshCounter(ctx: AppContext): Counter<'kind' | 'forced'> {
  const name = 'wecard_wechat_token_refreshes_total';
  return (
    (ctx.metrics.getSingleMetric(name) as Counter<'kind' | 'forced'> | undefined) ??
    new Counter({ name, help: 'access_token fetches this instance made, by app kind and whether an API refused the previous token', labelNames: ['kind', 'forced'] as const, registers: [ctx.metrics] })
  );
}

export interface HeldToken {
  token: string;
  /** The row's generation when read: a compare-and-refresh names the token that failed by it. */
  generation: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function refreshUnderLease(ctx: AppContext, key: TokenKey, secrets: AppSecrets, forced: boolean): Promise<HeldToken> {
  const holder = ctx.instanceId;
  let fetched: FetchedToken;
  try {
    fetched = await fetchPlatformToken(key.kind, secrets);
  } catch (err) {
    const errcode = err instanceof WechatApiError ? err.errcode : -1;
    await inTx(ctx.db, (tx) => releaseLease(tx, key, { holder, errcode, now: ctx.clock.now() }));
    ctx.log.warn({ tenantId: key.tenantId, kind: key.kind, errcode }, 'access_token fetch failed');
    throw err;
  }
  const now = ctx.clock.now();
  const generation = await inTx(ctx.db, (tx) =>
    storeToken(tx, key, { holder, tokenEnc: ctx.crypto.encrypt(fetched.accessToken), expiresAt: new Date(now.getTime() + fetched.expiresInS * 1000), now, forced }),
  );
  refreshCounter(ctx).inc({ kind: key.kind, forced: String(forced) });
  if (generation === undefined) {
    // Our lease lapsed mid-fetch and another instance took over; our token stays valid at least
    // 5 minutes after theirs, so this call can use it, and the next reads theirs.
    ctx.log.warn({ tenantId: key.tenantId, kind: key.kind }, 'access_token lease lapsed during the fetch');
    return { token: fetched.accessToken, generation: -1 };
  }
  ctx.log.info({ tenantId: key.tenantId, kind: key.kind, forced, generation }, 'access_token refreshed');
  return { token: fetched.accessToken, generation };
}

function held(ctx: AppContext, row: TokenRow): HeldToken {
  return { token: ctx.crypto.decrypt(row.token_enc!), generation: Number(row.generation) };
}

/**
 * The app's token. Fresh tokens are read and returned. When a refresh is due, one caller across
 * all instances wins the lease and fetches; the others keep using the current token while it is
 * valid, or wait (bounded) and re-read. `staleGeneration` names a token an API just refused: it
 * is replaced only if it is still the stored one, so N instances seeing one failure refresh once.
 */
async function obtain(ctx: AppContext, app: WechatApp, staleGeneration: number | undefined): Promise<HeldToken> {
  const secrets = await appSecretsOf(ctx, app);
  const key: TokenKey = { tenantId: app.tenantId, kind: app.kind, appId: secrets.appId };
  const startedAt = ctx.clock.now();
  const waitUntilMs = performance.now() + TOKEN_WAIT_MAX_MS;
  for (;;) {
    const now = ctx.clock.now();
    let row = await readTokenRow(ctx.db, key);
    if (!row) {
      await inTx(ctx.db, (tx) => ensureTokenRow(tx, key, now));
      row = (await readTokenRow(ctx.db, key))!;
    }
    const use = tokenUse(
      { hasToken: row.token_enc !== null, expiresAt: row.expires_at, generation: Number(row.generation), refreshedAt: row.refreshed_at },
      now,
      staleGeneration,
    );
    if (use === 'fresh') return held(ctx, row);
    const leaseFree = row.lease_until === null || row.lease_until.getTime() <= now.getTime();
    const lastErrorMs = row.last_error_at?.getTime();
    // Another caller's fetch failed while this one waited: report that instead of each waiter
    // asking WeChat again.
    if (use === 'unusable' && leaseFree && lastErrorMs !== undefined && row.last_errcode !== null && lastErrorMs > startedAt.getTime()) {
      throw new WechatApiError(row.last_errcode, 'the access_token fetch failed');
    }
    // The current token still works: after a failed fetch, leave WeChat alone for a while.
    if (use === 'usable' && lastErrorMs !== undefined && now.getTime() - lastErrorMs < TOKEN_FETCH_BACKOFF_MS) return held(ctx, row);
    if (leaseFree) {
      const generation = Number(row.generation);
      const claimed = await inTx(ctx.db, (tx) =>
        claimLease(tx, key, { holder: ctx.instanceId, now, leaseUntil: new Date(now.getTime() + TOKEN_LEASE_MS), generation }),
      );
      if (claimed) return refreshUnderLease(ctx, key, secrets, staleGeneration !== undefined);
      // Someone stored or claimed in between: look again (bounded like any wait).
      if (performance.now() > waitUntilMs) throw unavailable('timed out waiting for another instance to refresh the access_token');
      continue;
    }
    if (use === 'usable') return held(ctx, row);
    if (performance.now() > waitUntilMs) throw unavailable('timed out waiting for another instance to refresh the access_token');
    await sleep(TOKEN_POLL_MS);
  }
}

// Concurrent callers on one instance share one database round of obtain(): keyed by context
// (never a module-wide singleton), app and stale generation.
const inFlight = new WeakMap<AppContext, Map<string, Promise<HeldToken>>>();

export function obtainToken(ctx: AppContext, app: WechatApp, staleGeneration?: number): Promise<HeldToken> {
  let mine = inFlight.get(ctx);
  if (!mine) inFlight.set(ctx, (mine = new Map()));
  const k = `${app.tenantId}\u0000${app.kind}\u0000${staleGeneration ?? ''}`;
  const running = mine.get(k);
  if (running) return running;
  const p = obtain(ctx, app, staleGeneration).finally(() => mine.delete(k));
  mine.set(k, p);
  return p;
}

/** The app's current access_token, shared by all instances through a database lease (refreshed ahead of expiry). */
export async function getAccessToken(ctx: AppContext, app: WechatApp): Promise<string> {
  return (await obtainToken(ctx, app)).token;
}

/**
 * For a caller that used getAccessToken itself and got 40001/40014/42001: replaces the token
 * only if `failedToken` is still the stored one, and returns the token to retry with.
 */
export async function refreshAccessTokenIfCurrent(ctx: AppContext, app: WechatApp, failedToken: string): Promise<string> {
  const current = await obtainToken(ctx, app);
  if (current.token !== failedToken) return current.token;
  return (await obtainToken(ctx, app, current.generation)).token;
}
