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
  if (!ACTOR_KINDS.has(entry.actor.kind)) throw new AuditRefusedError(`audit actor kind ${String(entry.actor.kind)} is not one of ${[...ACTOR_KINDS].join(', ')}`);
  if (!OUTCOMES.has(entry.outcome)) throw new AuditRefusedError(`audit outcome ${String(entry.outcome)} is not one of ${[...OUTCOMES].join(', ')}`);
  if (!(entry.at instanceof Date) || Number.isNaN(entry.at.getTime())) throw new AuditRefusedError('audit entry needs a valid time');
  await db
    .insertInto('audit_log')
    .values({
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
    })
    .execute();
}
