// Idempotency-Key for POSTs that send an SMS (API.md): same key and body → the first answer; another body → idempotency_conflict.
import { createHmac, hkdfSync } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';

/** A key is remembered this long; after that the same key starts afresh. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** The Idempotency-Key header, if any (printable ASCII, 1–200 characters). */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !KEY_PATTERN.test(raw)) {
    throw AppError.validation([{ field: 'headers.idempotency-key', message: 'must be 1–200 printable ASCII characters' }]);
  }
  return raw;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/**
 * The body's fingerprint. Bodies carry card, ID and phone numbers, so it is an HMAC under a key
 * derived from the pepper, not a plain hash anyone could test guesses against.
 */
function requestHash(pepper: string, body: unknown): string {
  const key = Buffer.from(hkdfSync('sha256', pepper, 'wecard/identity', 'idempotency-body', 32));
  return createHmac('sha256', key).update(JSON.stringify(canonical(body ?? null))).digest('hex');
}

/**
 * Runs `fn` once per (scope, key). The key row is claimed first (a concurrent twin gets 409
 * conflict while the first runs); a success stores its answer for replays; a failure releases the
 * key so the client may retry with it. Without a key, `fn` simply runs.
 */
export async function withIdempotency<T>(
  ctx: AppContext,
  k: { scope: string; key: string | undefined; body: unknown },
  fn: () => Promise<{ status: number; body: T }>,
): Promise<{ status: number; body: T; replayed: boolean }> {
  if (k.key === undefined) return { ...(await fn()), replayed: false };
  const id = `${k.scope}:${k.key}`;
  const hash = requestHash(ctx.passwordPepper, k.body);
  const now = ctx.clock.now();
  await ctx.db
    .deleteFrom('idempotency_keys')
    .where('key', '=', id)
    .where('created_at', '<', new Date(now.getTime() - IDEMPOTENCY_TTL_MS))
    .execute();
  const claimed = await ctx.db
    .insertInto('idempotency_keys')
    .values({ key: id, request_hash: hash, status_code: null, response_body: null, created_at: now })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('key')
    .executeTakeFirst();
  if (!claimed) {
    const row = await ctx.db.selectFrom('idempotency_keys').selectAll().where('key', '=', id).executeTakeFirst();
    if (!row) throw new AppError('conflict', 'the request with this Idempotency-Key is being retried; try again');
    if (row.request_hash !== hash) throw new AppError('idempotency_conflict', 'this Idempotency-Key was used with another body');
    if (row.status_code === null) throw new AppError('conflict', 'the first request with this Idempotency-Key is still running');
    const body = typeof row.response_body === 'string' ? JSON.parse(row.response_body) : row.response_body;
    return { status: row.status_code, body: body as T, replayed: true };
  }
  try {
    const out = await fn();
    await ctx.db
      .updateTable('idempotency_keys')
      .set({ status_code: out.status, response_body: JSON.stringify(out.body) })
      .where('key', '=', id)
      .execute();
    return { ...out, replayed: false };
  } catch (err) {
    await ctx.db.deleteFrom('idempotency_keys').where('key', '=', id).execute();
    throw err;
  }
}
