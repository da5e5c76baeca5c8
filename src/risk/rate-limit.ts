// Request rate limits: fixed windows counted in Redis when it is up, in a bounded in-process map otherwise; a route hook.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';

/** Keys one process remembers; beyond this the oldest window is evicted (memory stays bounded under a key flood). */
export const RATE_LIMIT_MAX_KEYS = 10_000;
/** Keys longer than this are hashed before use (bounded Redis keys and map entries). */
const RATE_KEY_MAX_CHARS = 128;
/** Redis keys outlive their window by this much, so instances with slightly skewed clocks share a window's count. */
const REDIS_TTL_SLACK_MS = 5_000;
const REDIS_PREFIX = 'wecard:rl:';

/**
 * INCR and PEXPIRE in one atomic step: a crash between them cannot leave a counter without expiry.
 * Returns the window's count after this hit.
 */
const INCR_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export interface RateLimitRule {
  bucket: string;
  key: string;
  limit: number;
  windowMs: number;
  now: Date;
}

/** Fixed windows aligned to the epoch, so every instance and Redis agree on where a window starts. */
function windowOf(nowMs: number, windowMs: number): { start: number; index: number } {
  const index = Math.floor(nowMs / windowMs);
  return { start: index * windowMs, index };
}

function compositeKey(bucket: string, key: string): string {
  const k = `${bucket}:${key}`;
  return k.length <= RATE_KEY_MAX_CHARS ? k : `${bucket}:#${createHash('sha256').update(key).digest('base64url')}`;
}

/** Counts per (bucket, key) window in one process; bounded, evicting the oldest window first. */
export class InProcessRateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();
  readonly #maxKeys: number;

  constructor(maxKeys = RATE_LIMIT_MAX_KEYS) {
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#windows.size;
  }

  /** Counts a hit; returns the window's count after it. */
  hit(key: string, windowMs: number, nowMs: number): number {
    const { start } = windowOf(nowMs, windowMs);
    const entry = this.#windows.get(key);
    if (entry && entry.start === start) return ++entry.count;
    // A new window: re-insert so Map order stays "oldest window first" for eviction.
    this.#windows.delete(key);
    this.#windows.set(key, { start, count: 1 });
    while (this.#windows.size > this.#maxKeys) {
      const oldest = this.#windows.keys().next().value as string;
      this.#windows.delete(oldest);
    }
    return 1;
  }
}

/** One in-process limiter per context (per server instance), not per module: tests get fresh ones. */
const localLimiters = new WeakMap<AppContext, InProcessRateLimiter>();

export function localLimiter(ctx: AppContext): InProcessRateLimiter {
  let l = localLimiters.get(ctx);
  if (!l) {
    l = new InProcessRateLimiter();
    localLimiters.set(ctx, l);
  }
  return l;
}

async function redisHit(ctx: AppContext, key: string, windowMs: number, nowMs: number): Promise<number | undefined> {
  const redis = ctx.redis;
  // No status check first: with no offline queue a command on a dead connection fails at once,
  // and that one failure path is the one tested.
  if (!redis) return undefined;
  const { index } = windowOf(nowMs, windowMs);
  try {
    const n = await redis.eval(INCR_SCRIPT, 1, `${REDIS_PREFIX}${key}:${windowMs}:${index}`, String(windowMs + REDIS_TTL_SLACK_MS));
    return typeof n === 'number' ? n : Number(n);
  } catch (err) {
    // The limit still holds per instance; the connection's own error handler reports the outage once.
    ctx.log.debug({ err: { message: (err as Error).message } }, 'redis rate limit failed; counting in process');
    return undefined;
  }
}

/** Throws AppError rate_limited { retryAfter } (seconds). Redis when ctx.redis is up, in-process otherwise. */
export async function checkRateLimit(ctx: AppContext, r: RateLimitRule): Promise<void> {
  if (!Number.isInteger(r.limit) || r.limit < 0) throw new Error('rate limit must be a non-negative integer');
  if (!Number.isInteger(r.windowMs) || r.windowMs <= 0) throw new Error('rate limit window must be a positive integer of ms');
  const key = compositeKey(r.bucket, r.key);
  const nowMs = r.now.getTime();
  const count = (await redisHit(ctx, key, r.windowMs, nowMs)) ?? localLimiter(ctx).hit(key, r.windowMs, nowMs);
  if (count <= r.limit) return;
  const { start } = windowOf(nowMs, r.windowMs);
  const retryAfter = Math.max(1, Math.ceil((start + r.windowMs - nowMs) / 1000));
  throw new AppError('rate_limited', 'too many requests; retry later', { retryAfter });
}

export interface RateLimitHookOptions {
  bucket: string;
  limit: number;
  windowMs: number;
  /** Who is limited: a user id, a tenant + IP… (never a card number or a phone). */
  key: (request: FastifyRequest) => string;
}

/** A Fastify preHandler applying one rate limit to a route; the problem handler adds Retry-After. */
export function rateLimitHook(ctx: AppContext, opts: RateLimitHookOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request) => {
    await checkRateLimit(ctx, { bucket: opts.bucket, key: opts.key(request), limit: opts.limit, windowMs: opts.windowMs, now: ctx.clock.now() });
  };
}
