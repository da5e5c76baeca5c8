// The accounts module's per-instance state on the hot read path: short-lived caches of sessions, tenants and usable cards.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.ts';
import type { Authenticate, CardholderPrincipal } from '../app/auth.ts';
import { AppError } from '../app/errors.ts';
import { assertCardUsable, authenticateCardholder, requireOwnCardWithCore, type BoundCard, type CardUsePurpose } from '../identity/index.ts';
import { getTenant, type Tenant } from '../tenants/index.ts';
import type { CoreCard } from '../core/index.ts';
import { TtlCache } from './ttl-cache.ts';

/**
 * How long this instance trusts what it read about a session, a tenant's policy or a card's state
 * (binding, status, risk freeze) before reading it again. Every balance answer would otherwise
 * cost five to seven reads of other modules' rows; with this, a cardholder checking a balance
 * pays them about once a second. The price: a sign-out, a loss report (挂失), an unbinding, a
 * risk freeze or a policy change reaches this instance's answers up to this much later (other
 * instances, like this one, within this bound). The same instance drops a user's cards at once
 * when its own query tips that user into a freeze.
 */
export const HOT_STATE_TTL_MS = 1_000;
/** Entries per cache: beyond this the oldest go (a burst of distinct users cannot grow memory). */
export const HOT_STATE_MAX_ENTRIES = 10_000;

export interface UsableCard {
  card: BoundCard;
  core: CoreCard;
}

export interface HotState {
  sessions: TtlCache<CardholderPrincipal>;
  tenants: TtlCache<Tenant>;
  cards: TtlCache<UsableCard>;
}

const states = new WeakMap<AppContext, HotState>();

export function hotState(ctx: AppContext): HotState {
  let s = states.get(ctx);
  if (!s) {
    s = {
      sessions: new TtlCache(HOT_STATE_TTL_MS, HOT_STATE_MAX_ENTRIES),
      tenants: new TtlCache(HOT_STATE_TTL_MS, HOT_STATE_MAX_ENTRIES),
      cards: new TtlCache(HOT_STATE_TTL_MS, HOT_STATE_MAX_ENTRIES),
    };
    states.set(ctx, s);
  }
  return s;
}

/**
 * identity's cardholder hook behind a short cache: a token (with the request's X-Device-Id) that
 * identity accepted is trusted for HOT_STATE_TTL_MS without asking the database again. The key
 * is the token's SHA-256, never the token. Refusals are not cached: identity decides each one.
 * identity's hook still runs about once a second per active session, so sliding expiry and
 * device checks keep working.
 */
export function cachedCardholderAuth(ctx: AppContext): Authenticate {
  const identityHook = authenticateCardholder(ctx);
  const { sessions } = hotState(ctx);
  return async (request, reply) => {
    const key = sessionKey(request);
    const now = ctx.clock.now().getTime();
    const hit = key === undefined ? undefined : sessions.get(key, now);
    if (hit) {
      request.cardholder = hit;
      return;
    }
    await identityHook(request, reply);
    if (key !== undefined && request.cardholder) sessions.set(key, request.cardholder, now);
  };
}

function sessionKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth !== 'string' || auth.length > 200) return undefined;
  const device = request.headers['x-device-id'];
  if (device !== undefined && typeof device !== 'string') return undefined;
  return `${createHash('sha256').update(auth).digest('base64url')}|${device ?? ''}`;
}

/** The tenant (name and policy), read at most once per HOT_STATE_TTL_MS per instance. */
export async function cachedTenant(ctx: AppContext, tenantId: string): Promise<Tenant> {
  return hotState(ctx).tenants.getOrLoad(tenantId, ctx.clock.now().getTime(), async () => {
    const t = await getTenant(ctx.db, tenantId);
    if (!t) throw new AppError('not_found', 'no such institution');
    return t;
  });
}

/** Who reads: a cardholder's session, or a channel's user (OA chat, SMS) without one. */
export interface Reader {
  tenantId: string;
  userId: string;
  sessionId?: string | undefined;
  deviceId?: string | undefined;
}

export function principalOf(who: Reader): CardholderPrincipal {
  return { tenantId: who.tenantId, userId: who.userId, sessionId: who.sessionId ?? '', deviceId: who.deviceId ?? '' };
}

/**
 * The reader's card, usable for a read (identity's requireOwnCard + assertCardUsable: not another
 * user's, not lost, frozen, cancelled or dormant-and-closed, no risk freeze), trusted for
 * HOT_STATE_TTL_MS. A refusal is never cached: a lost card is asked about on every request.
 */
export async function usableCard(ctx: AppContext, who: Reader, cardId: string, purpose: Extract<CardUsePurpose, 'balance' | 'transactions'>): Promise<UsableCard> {
  const key = `${who.tenantId}\u0000${who.userId}\u0000${cardId}\u0000${purpose}`;
  return hotState(ctx).cards.getOrLoad(key, ctx.clock.now().getTime(), async () => {
    // The core's card as the ownership check read it, and the tenant's policy from this instance's
    // cache: the miss costs the binding, the core card and the freeze (three reads), not five.
    const [{ card, core }, tenant] = await Promise.all([requireOwnCardWithCore(ctx.db, principalOf(who), cardId), cachedTenant(ctx, who.tenantId)]);
    const usable = await assertCardUsable(ctx, card, { purpose, core: core ?? null, policy: tenant.policy });
    return { card, core: usable };
  });
}

/** Forgets what this instance trusted about a user's cards (their query just froze them). */
export function forgetUserCards(ctx: AppContext, tenantId: string, userId: string): void {
  hotState(ctx).cards.deletePrefix(`${tenantId}\u0000${userId}\u0000`);
}
