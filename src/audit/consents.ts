// Consent records: every grant and withdrawal appended with its notice version; the latest per purpose is in force.
//
// "Latest" is the last recorded (highest id), not the largest `at`: instances' clocks may differ by
// a second, and a withdrawal recorded after a grant must win even if its instance runs behind.
import { AppError } from '../app/errors.ts';
import type { Db, Tx } from '../db/tx.ts';
import { recordAudit } from './log.ts';
import {
  CONSENT_CHANNEL_PATTERN,
  CONSENT_PURPOSES,
  NOTICE_VERSION_PATTERN,
  holdsClearNumber,
  isConsentPurpose,
  looksLikeClearNumber,
  type ConsentPurpose,
} from './policy.ts';

export interface Consent {
  purpose: ConsentPurpose;
  noticeVersion: string;
  granted: boolean;
  at: Date;
}

export interface ConsentChange {
  tenantId: string;
  userId: string;
  purpose: ConsentPurpose;
  noticeVersion: string;
  granted: boolean;
  at: Date;
  /** Where the decision was taken: 'api', 'oa', 'sms', 'counter'. */
  channel?: string;
  /** Request facts for the audit entry the change writes. */
  audit?: { ip?: string; deviceId?: string; requestId?: string };
}

function toConsent(r: { purpose: string; notice_version: string; granted: boolean; at: Date }): Consent {
  return { purpose: r.purpose as ConsentPurpose, noticeVersion: r.notice_version, granted: r.granted, at: new Date(r.at) };
}

function checkChange(c: ConsentChange): void {
  const errors: { field: string; message: string }[] = [];
  if (!isConsentPurpose(c.purpose)) errors.push({ field: 'purpose', message: `must be one of ${CONSENT_PURPOSES.join(', ')}` });
  if (typeof c.noticeVersion !== 'string' || !NOTICE_VERSION_PATTERN.test(c.noticeVersion)) errors.push({ field: 'noticeVersion', message: `must match ${NOTICE_VERSION_PATTERN}` });
  // The client chooses the text and it goes into the audit detail: never a phone or card number.
  else if (holdsClearNumber(c.noticeVersion) || looksLikeClearNumber(c.noticeVersion)) errors.push({ field: 'noticeVersion', message: 'must be a notice version, not a number of that length' });
  if (c.channel !== undefined && !CONSENT_CHANNEL_PATTERN.test(c.channel)) errors.push({ field: 'channel', message: `must match ${CONSENT_CHANNEL_PATTERN}` });
  if (typeof c.granted !== 'boolean') errors.push({ field: 'granted', message: 'must be true or false' });
  if (errors.length > 0) throw AppError.validation(errors);
}

async function current(db: Db | Tx, tenantId: string, userId: string, purpose: ConsentPurpose): Promise<Consent | undefined> {
  const r = await db
    .selectFrom('consents')
    .select(['purpose', 'notice_version', 'granted', 'at'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r ? toConsent(r) : undefined;
}

/**
 * Grants or withdraws (granted: false) one purpose under one notice version. Appends a row and an
 * audit entry unless the same decision on the same notice is already in force, so a client that
 * re-sends its toggles does not pad the history. Withdrawal is as easy as granting (PIPL art. 15).
 */
export async function setConsent(tx: Tx, c: ConsentChange): Promise<Consent> {
  checkChange(c);
  const now = await current(tx, c.tenantId, c.userId, c.purpose);
  if (now && now.granted === c.granted && now.noticeVersion === c.noticeVersion) return now;
  const row = await tx
    .insertInto('consents')
    .values({
      tenant_id: c.tenantId,
      user_id: c.userId,
      purpose: c.purpose,
      notice_version: c.noticeVersion,
      granted: c.granted,
      at: c.at,
      channel: c.channel ?? null,
    })
    .returning(['purpose', 'notice_version', 'granted', 'at'])
    .executeTakeFirstOrThrow();
  await recordAudit(tx, {
    tenantId: c.tenantId,
    actor: { kind: 'cardholder', id: c.userId },
    action: c.granted ? 'consent.granted' : 'consent.withdrawn',
    subject: { kind: 'consent', id: c.purpose },
    outcome: 'ok',
    detail: { noticeVersion: c.noticeVersion, ...(c.channel ? { channel: c.channel } : {}) },
    ip: c.audit?.ip,
    deviceId: c.audit?.deviceId,
    requestId: c.audit?.requestId,
    at: c.at,
  });
  return toConsent(row);
}

/**
 * True when the purpose's latest decision is a grant (and, when `noticeVersion` is given, a grant
 * of that notice: a new notice needs consent again).
 */
export async function hasConsent(db: Db | Tx, q: { tenantId: string; userId: string; purpose: ConsentPurpose; noticeVersion?: string }): Promise<boolean> {
  const c = await current(db, q.tenantId, q.userId, q.purpose);
  return !!c && c.granted && (q.noticeVersion === undefined || c.noticeVersion === q.noticeVersion);
}

/** The decision in force for each purpose the user ever decided on, in CONSENT_PURPOSES order. */
export async function listConsents(db: Db | Tx, tenantId: string, userId: string): Promise<Consent[]> {
  const rows = await db
    .selectFrom('consents')
    .select(['purpose', 'notice_version', 'granted', 'at'])
    .distinctOn('purpose')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .orderBy('purpose')
    .orderBy('id', 'desc')
    .execute();
  const order = (p: string) => (CONSENT_PURPOSES as readonly string[]).indexOf(p);
  return rows.filter((r) => isConsentPurpose(r.purpose)).map(toConsent).sort((a, b) => order(a.purpose) - order(b.purpose));
}

/** The full history of one user's decisions, newest first, bounded (for operators and data-subject requests). */
export const CONSENT_HISTORY_MAX_ROWS = 500;
export async function consentHistory(db: Db | Tx, tenantId: string, userId: string): Promise<(Consent & { channel: string | null })[]> {
  const rows = await db
    .selectFrom('consents')
    .select(['purpose', 'notice_version', 'granted', 'at', 'channel'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .orderBy('id', 'desc')
    .limit(CONSENT_HISTORY_MAX_ROWS)
    .execute();
  return rows.map((r) => ({ ...toConsent(r), channel: r.channel }));
}
