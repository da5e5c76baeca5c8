// Writing audit entries: one INSERT per event, in the caller's transaction, checked for clear sensitive values first.
import type { Db, Tx } from '../db/tx.ts';
import type { AuditActorKind, AuditOutcome } from './audit.table.ts';
import {
  AUDIT_ID_MAX_CHARS,
  AUDIT_IP_MAX_CHARS,
  AuditRefusedError,
  auditDetailText,
  checkedAction,
  checkedId,
  checkedKind,
  clientValue,
} from './policy.ts';

export interface AuditEntry {
  tenantId: string;
  actor: { kind: AuditActorKind; id: string };
  /** Dotted verb: 'balance.read', 'transactions.read', 'card.bind', 'otp.failed', 'session.created', 'risk.freeze', … */
  action: string;
  /** e.g. { kind: 'card', id: cardToken }: never a clear card number. */
  subject?: { kind: string; id: string };
  outcome: AuditOutcome;
  /** Masked values only: a string shaped like a clear card, ID or phone number is refused. */
  detail?: Record<string, unknown>;
  ip?: string;
  deviceId?: string;
  requestId?: string;
  at: Date;
}

const ACTOR_KINDS: ReadonlySet<string> = new Set<AuditActorKind>(['cardholder', 'operator', 'system']);
const OUTCOMES: ReadonlySet<string> = new Set<AuditOutcome>(['ok', 'refused', 'error']);

/**
 * Appends one entry. Runs in the caller's transaction when given one, so the entry exists exactly
 * when the read or change it records commits (a rolled-back seq leaves a harmless gap). The row
 * is not hashed here: that would make every writer wait for the previous row's hash; the sealer
 * (seal.ts) chains committed rows in the background. Throws AuditRefusedError on a caller bug
 * (clear card/ID/phone in the detail or ids, malformed action, oversized detail).
 */
export async function recordAudit(db: Tx | Db, entry: AuditEntry): Promise<void> {
  await db.insertInto('audit_log').values(auditRow(entry)).execute();
}

/** Rows per multi-row INSERT (12 parameters each, well under PostgreSQL's 65,535). */
const AUDIT_INSERT_CHUNK = 1_000;

/**
 * Appends several entries at once, in the given order (their seqs follow it): the same checks as
 * recordAudit for every entry before anything is written (one refused entry writes none), then one
 * multi-row INSERT per AUDIT_INSERT_CHUNK entries. Rows are chained by the sealer in seq order
 * after they commit (seal.ts), never at insert, so a batch is chained exactly like single inserts.
 */
export async function recordAudits(db: Tx | Db, entries: readonly AuditEntry[]): Promise<void> {
  const rows = entries.map(auditRow);
  for (let i = 0; i < rows.length; i += AUDIT_INSERT_CHUNK) {
    await db.insertInto('audit_log').values(rows.slice(i, i + AUDIT_INSERT_CHUNK)).execute();
  }
}

/** An entry as its audit_log row, after every check (throws AuditRefusedError). */
function auditRow(entry: AuditEntry) {
  if (!ACTOR_KINDS.has(entry.actor.kind)) throw new AuditRefusedError(`audit actor kind ${String(entry.actor.kind)} is not one of ${[...ACTOR_KINDS].join(', ')}`);
  if (!OUTCOMES.has(entry.outcome)) throw new AuditRefusedError(`audit outcome ${String(entry.outcome)} is not one of ${[...OUTCOMES].join(', ')}`);
  if (!(entry.at instanceof Date) || Number.isNaN(entry.at.getTime())) throw new AuditRefusedError('audit entry needs a valid time');
  return {
    tenant_id: checkedId('tenant id', entry.tenantId),
    at: entry.at,
    actor_kind: entry.actor.kind,
    actor_id: checkedId('actor id', entry.actor.id),
    action: checkedAction(entry.action),
    subject_kind: entry.subject ? checkedKind('subject', entry.subject.kind) : null,
    subject_id: entry.subject ? checkedId('subject id', entry.subject.id) : null,
    outcome: entry.outcome,
    detail: auditDetailText(entry.detail),
    ip: clientValue(entry.ip, AUDIT_IP_MAX_CHARS),
    device_id: clientValue(entry.deviceId, AUDIT_ID_MAX_CHARS),
    request_id: clientValue(entry.requestId, AUDIT_ID_MAX_CHARS),
  };
}
