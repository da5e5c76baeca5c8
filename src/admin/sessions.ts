// Console sign-in (password + TOTP, rate-limited), cookie sessions with idle and absolute expiry, and the double-submit CSRF check.
import { createHash, timingSafeEqual } from 'node:crypto';
import { hash, verify as verifyPassword } from '@node-rs/argon2';
import { verifySync as verifyTotp } from 'otplib';
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { checkRateLimit } from '../risk/index.ts';
import { newId, randomToken } from '../shared/ids.ts';
import { adminDb, type AdminOperatorRow } from './admin.table.ts';
import { ARGON2ID, PLATFORM_AUDIT_TENANT, PASSWORD_MAX_CHARS, USERNAME_PATTERN, toOperator, type Operator } from './operators.ts';

/** A session ends this long after sign-in whatever happens… */
export const SESSION_ABSOLUTE_MS = 8 * 3_600_000;
/** …or after this long without a request (PCI DSS 8.2.8: 15 minutes idle for consoles of card data). */
export const SESSION_IDLE_MS = 15 * 60_000;
/** last_seen_at is written at most this often per session. */
const SESSION_TOUCH_MS = 60_000;
/** Sign-in attempts per username, and per client address, per window (counted through src/risk). */
export const LOGIN_LIMIT_PER_USER = 5;
export const LOGIN_LIMIT_PER_IP = 30;
export const LOGIN_WINDOW_MS = 15 * 60_000;
/** One TOTP step either side: an authenticator's clock may be 30 s off. */
const TOTP_TOLERANCE_S = 30;

export const SESSION_COOKIE = 'wecard_admin';
export const CSRF_COOKIE = 'wecard_admin_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Verified against when the username is unknown, so a miss costs as much as a wrong password. */
let dummyHash: Promise<string> | undefined;
function dummy(): Promise<string> {
  dummyHash ??= hash(randomToken(), { algorithm: ARGON2ID });
  return dummyHash;
}

export interface AdminPrincipal {
  operator: Operator;
  sessionId: string;
  csrfHash: string;
}

export interface SignIn {
  username: string;
  password: string;
  totp: string;
  ip?: string;
  requestId?: string;
}

export interface SignedIn {
  operator: Operator;
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

/**
 * Checks password then TOTP; one answer (`unauthenticated`) for every failure so the form tells
 * nobody which part was wrong. Each attempt counts against the username and the address first.
 */
export async function signIn(ctx: AppContext, s: SignIn): Promise<SignedIn> {
  const now = ctx.clock.now();
  const username = typeof s.username === 'string' ? s.username.trim().toLowerCase().slice(0, 64) : '';
  await checkRateLimit(ctx, { bucket: 'admin_login_user', key: username || '-', limit: LOGIN_LIMIT_PER_USER, windowMs: LOGIN_WINDOW_MS, now });
  if (s.ip) await checkRateLimit(ctx, { bucket: 'admin_login_ip', key: s.ip, limit: LOGIN_LIMIT_PER_IP, windowMs: LOGIN_WINDOW_MS, now });

  // Only a name that could exist is looked up: PostgreSQL refuses text holding NUL, which made a 500 of a failed sign-in (found by fuzzing).
  const row = USERNAME_PATTERN.test(username)
    ? ((await adminDb(ctx.db).selectFrom('admin_operators').selectAll().where('username', '=', username).executeTakeFirst()) as Selectable<AdminOperatorRow> | undefined)
    : undefined;
  const password = typeof s.password === 'string' ? s.password.slice(0, PASSWORD_MAX_CHARS) : '';
  const passwordOk = await verifyPassword(row?.password_hash ?? (await dummy()), password).catch(() => false);
  let reason: string | undefined;
  let step: number | undefined;
  if (!row) reason = 'unknown_user';
  else if (!passwordOk) reason = 'bad_password';
  else if (row.disabled_at) reason = 'disabled';
  else {
    const secret = ctx.crypto.decrypt(row.totp_secret_enc);
    const last = row.totp_last_step === null ? undefined : Number(row.totp_last_step);
    const token = typeof s.totp === 'string' ? s.totp.trim() : '';
    const r = /^\d{6}$/.test(token) ? verifyTotp({ secret, token, epoch: Math.floor(now.getTime() / 1000), epochTolerance: TOTP_TOLERANCE_S }) : { valid: false as const };
    const matched = r.valid && 'timeStep' in r ? r.timeStep : undefined;
    if (matched === undefined) reason = 'bad_totp';
    // A code is good once: a step at or before the last accepted one is a replay (recorded as such).
    else if (last !== undefined && matched <= last) reason = 'totp_replayed';
    else step = matched;
  }

  const auditBase = {
    tenantId: row?.tenant_id ?? PLATFORM_AUDIT_TENANT,
    // An unknown name is kept as a hash: it may be a mistyped password or a phone number.
    actor: { kind: 'operator' as const, id: row?.id ?? `unknown:${sha256(username).slice(0, 16)}` },
    action: 'admin.login',
    ...(s.ip ? { ip: s.ip } : {}),
    ...(s.requestId ? { requestId: s.requestId } : {}),
    at: now,
  };
  if (reason !== undefined || !row || step === undefined) {
    await recordAudit(ctx.db, { ...auditBase, outcome: 'refused', detail: { reason: reason ?? 'bad_totp' } });
    ctx.log.warn({ operatorId: row?.id, reason }, 'admin sign-in refused');
    throw new AppError('unauthenticated', 'wrong username, password or code');
  }

  const token = randomToken(32);
  const csrfToken = randomToken(32);
  const expiresAt = new Date(now.getTime() + SESSION_ABSOLUTE_MS);
  const accepted = await inTx(ctx.db, async (tx) => {
    const a = adminDb(tx);
    // The step is claimed under the row's lock: two sign-ins with one code, only one wins.
    const claimed = await a
      .updateTable('admin_operators')
      .set({ totp_last_step: step, last_login_at: now, updated_at: now })
      .where('id', '=', row.id)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', sql<bigint>`${step}`)]))
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return false;
    await a.insertInto('admin_sessions').values({ id: newId('ads'), token_hash: sha256(token), csrf_hash: sha256(csrfToken), operator_id: row.id, created_at: now, last_seen_at: now, expires_at: expiresAt, revoked_at: null }).execute();
    await recordAudit(tx, { ...auditBase, outcome: 'ok' });
    return true;
  });
  if (!accepted) {
    await recordAudit(ctx.db, { ...auditBase, outcome: 'refused', detail: { reason: 'totp_replayed' } });
    throw new AppError('unauthenticated', 'wrong username, password or code');
  }
  return { operator: toOperator({ ...row, last_login_at: now }), token, csrfToken, expiresAt };
}

/** The session behind a cookie token, or undefined when missing, expired, idle too long, revoked, or its operator disabled. */
export async function resolveSession(ctx: AppContext, token: string | undefined): Promise<AdminPrincipal | undefined> {
  if (!token || token.length > 100) return undefined;
  const now = ctx.clock.now();
  const a = adminDb(ctx.db);
  const r = await a
    .selectFrom('admin_sessions as s')
    .innerJoin('admin_operators as o', 'o.id', 's.operator_id')
    .select(['s.id as session_id', 's.csrf_hash', 's.expires_at', 's.last_seen_at', 's.revoked_at', 'o.id', 'o.tenant_id', 'o.username', 'o.display_name', 'o.role', 'o.disabled_at', 'o.last_login_at', 'o.created_at'])
    .where('s.token_hash', '=', sha256(token))
    .executeTakeFirst();
  if (!r || r.revoked_at || r.disabled_at) return undefined;
  if (r.expires_at.getTime() <= now.getTime() || r.last_seen_at.getTime() + SESSION_IDLE_MS <= now.getTime()) return undefined;
  if (now.getTime() - r.last_seen_at.getTime() >= SESSION_TOUCH_MS) {
    await a.updateTable('admin_sessions').set({ last_seen_at: now }).where('id', '=', r.session_id).execute();
  }
  return { operator: toOperator(r), sessionId: r.session_id, csrfHash: r.csrf_hash };
}

/** Double submit: the header must equal the cookie, and both the token issued with this session. */
export function csrfOk(principal: AdminPrincipal, header: string | undefined, cookie: string | undefined): boolean {
  if (!header || !cookie || header.length > 100 || header !== cookie) return false;
  const a = Buffer.from(sha256(header), 'hex');
  const b = Buffer.from(principal.csrfHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function signOut(ctx: AppContext, p: AdminPrincipal): Promise<void> {
  const now = ctx.clock.now();
  await inTx(ctx.db, async (tx) => {
    await adminDb(tx).updateTable('admin_sessions').set({ revoked_at: now }).where('id', '=', p.sessionId).execute();
    await recordAudit(tx, { tenantId: p.operator.tenantId ?? PLATFORM_AUDIT_TENANT, actor: { kind: 'operator', id: p.operator.id }, action: 'admin.logout', outcome: 'ok', at: now });
  });
}

/** Reads one cookie from a Cookie header (no dependency: names here are fixed ASCII). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}
