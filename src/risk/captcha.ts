// Proof-of-work captcha (hashcash style): single-use, expiring challenges bound to one subject, and the solver.
import { createHash } from 'node:crypto';
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { newId, randomToken } from '../shared/ids.ts';
import type { Policy } from '../tenants/policy-schema.ts';
import { captchaRequired, leadingZeroBits, powSolves, type QueryUse } from './policy.ts';
import { consumeCaptcha, insertCaptcha, openCaptchaExpiries } from './store.ts';

/**
 * Expected work is 2^bits hashes: 2^18 ≈ 262k SHA-256 of ~40 bytes, about a second of a phone
 * browser's JavaScript (WebCrypto or a plain JS SHA-256 do a few hundred thousand a second), and
 * a few hundred milliseconds of native code. Enough to make a scripted enumerator pay per try.
 */
export const POW_DIFFICULTY_BITS = 18;
/** A challenge is answered within this time or not at all. */
export const CAPTCHA_TTL_MS = 2 * 60 * 1000;
/** Open challenges per subject: more means someone is farming them; refuse until the oldest expires. */
export const CAPTCHA_MAX_OPEN_PER_SUBJECT = 5;
/** Longest subject (an opaque user id or account key). */
const CAPTCHA_SUBJECT_MAX_CHARS = 200;
/** The request header that carries an answer: `<challengeId>:<solution>`. */
export const CAPTCHA_ANSWER_HEADER = 'x-captcha';
/** solvePow gives up after this many tries (2^32: far beyond any difficulty we issue). */
export const POW_MAX_ITERATIONS = 2 ** 32;

export interface CaptchaChallenge {
  challengeId: string;
  kind: 'pow';
  algorithm: 'sha256';
  prefix: string;
  difficultyBits: number;
  expiresAt: string;
}

function assertSubject(subject: string): void {
  if (subject.length === 0 || subject.length > CAPTCHA_SUBJECT_MAX_CHARS) throw new Error('captcha subject must be 1..200 characters');
}

/**
 * Issues a challenge for `subject` (the user or account the answer will be accepted from). The
 * prefix is random and the challenge is stored, so an answer is good once, for this subject,
 * before expiresAt; the id is unguessable.
 */
export async function issueCaptcha(ctx: AppContext, c: { tenantId: string; subject: string; now: Date }): Promise<CaptchaChallenge> {
  assertSubject(c.subject);
  const open = await openCaptchaExpiries(ctx.db, c.tenantId, c.subject, c.now, CAPTCHA_MAX_OPEN_PER_SUBJECT);
  if (open.length >= CAPTCHA_MAX_OPEN_PER_SUBJECT) {
    const retryAfter = Math.max(1, Math.ceil((open[0]!.getTime() - c.now.getTime()) / 1000));
    throw new AppError('rate_limited', 'too many open challenges; solve one or wait', { retryAfter });
  }
  const challengeId = newId('cap');
  const prefix = `wecard:${randomToken(16)}:`;
  const expiresAt = new Date(c.now.getTime() + CAPTCHA_TTL_MS);
  await insertCaptcha(ctx.db, {
    id: challengeId,
    tenantId: c.tenantId,
    subject: c.subject,
    prefix,
    difficultyBits: POW_DIFFICULTY_BITS,
    now: c.now,
    expiresAt,
  });
  return { challengeId, kind: 'pow', algorithm: 'sha256', prefix, difficultyBits: POW_DIFFICULTY_BITS, expiresAt: expiresAt.toISOString() };
}

/**
 * Single use; true when solved for this subject in time. Any attempt spends the challenge, right
 * or wrong, so a wrong answer cannot be followed by another guess on the same work.
 */
export async function verifyCaptcha(ctx: AppContext, c: { challengeId: string; solution: string; subject: string; now: Date }): Promise<boolean> {
  if (!/^cap_[0-9a-z]{26}$/.test(c.challengeId)) return false;
  const ch = await consumeCaptcha(ctx.db, c.challengeId, c.now);
  if (!ch) return false;
  if (ch.subject !== c.subject) return false;
  if (ch.expiresAt.getTime() <= c.now.getTime()) return false;
  return powSolves(ch.prefix, c.solution, ch.difficultyBits);
}

/** Finds a nonce such that sha256(prefix + nonce) has `difficultyBits` leading zero bits (tests and the H5 page's reference). */
export function solvePow(prefix: string, difficultyBits: number, maxIterations = POW_MAX_ITERATIONS): string {
  for (let i = 0; i < maxIterations; i++) {
    const nonce = i.toString(36);
    if (leadingZeroBits(createHash('sha256').update(prefix + nonce).digest()) >= difficultyBits) return nonce;
  }
  throw new Error(`no proof of work found in ${maxIterations} tries`);
}

/** `<challengeId>:<solution>` → its parts; undefined when malformed. */
export function parseCaptchaAnswer(header: string | string[] | undefined): { challengeId: string; solution: string } | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^(cap_[0-9a-z]{26}):([0-9A-Za-z]{1,32})$/.exec(header.trim());
  return m ? { challengeId: m[1]!, solution: m[2]! } : undefined;
}

/**
 * The captcha gate of a query: passes when the policy asks for none, or when `answer` (the
 * X-Captcha header) solves one of this subject's challenges; otherwise throws captcha_required
 * with a fresh challenge in `captcha` (API.md).
 */
export async function requireCaptcha(
  ctx: AppContext,
  c: { policy: Policy; use: QueryUse; tenantId: string; subject: string; answer: string | string[] | undefined; now: Date },
): Promise<void> {
  if (!captchaRequired(c.policy, c.use)) return;
  const parsed = parseCaptchaAnswer(c.answer);
  if (parsed && (await verifyCaptcha(ctx, { ...parsed, subject: c.subject, now: c.now }))) return;
  const captcha = await issueCaptcha(ctx, { tenantId: c.tenantId, subject: c.subject, now: c.now });
  throw new AppError('captcha_required', parsed ? 'the challenge answer is wrong, used or expired' : 'solve the challenge in `captcha` first', {
    captcha,
  });
}
