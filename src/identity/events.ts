// Identity's audit entries and risk signals, written in the caller's transaction through the audit and risk modules.
import type { AppContext } from '../app/context.ts';
import type { Tx } from '../db/tx.ts';
import { recordAudit, type AuditEntry } from '../audit/index.ts';
import { recordRiskSignal, type RiskSignalKind } from '../risk/index.ts';

/** Where a request came from: carried into audit entries (never a phone, a card number or a token). */
export interface RequestMeta {
  ip?: string | undefined;
  requestId?: string | undefined;
  deviceId?: string | undefined;
}

export interface IdentityAudit {
  tenantId: string;
  /** The cardholder acting, or undefined for the system (jobs, the core's feed). */
  userId?: string | undefined;
  action: string;
  outcome: AuditEntry['outcome'];
  subject?: AuditEntry['subject'];
  detail?: Record<string, unknown>;
  at: Date;
}

export async function audit(tx: Tx, e: IdentityAudit, meta: RequestMeta = {}): Promise<void> {
  await recordAudit(tx, {
    tenantId: e.tenantId,
    actor: e.userId ? { kind: 'cardholder', id: e.userId } : { kind: 'system', id: 'identity' },
    action: e.action,
    ...(e.subject ? { subject: e.subject } : {}),
    outcome: e.outcome,
    ...(e.detail ? { detail: e.detail } : {}),
    ...(meta.ip ? { ip: meta.ip } : {}),
    ...(meta.deviceId ? { deviceId: meta.deviceId } : {}),
    ...(meta.requestId ? { requestId: meta.requestId } : {}),
    at: e.at,
  });
}

/** A risk signal (new device, failed OTP…); the risk module may freeze the user or card at its thresholds. */
export async function riskSignal(
  ctx: AppContext,
  tx: Tx,
  s: { tenantId: string; userId?: string | undefined; cardId?: string | undefined; kind: RiskSignalKind; now: Date; ip?: string | undefined; detail?: Record<string, unknown> },
): Promise<void> {
  // A signal is scored per user or card; a code answered by nobody known (quick balance) has no subject here.
  if (!s.userId && !s.cardId) return;
  const r = await recordRiskSignal(ctx, tx, {
    tenantId: s.tenantId,
    kind: s.kind,
    now: s.now,
    ...(s.userId ? { userId: s.userId } : {}),
    ...(s.cardId ? { cardId: s.cardId } : {}),
    ...(s.ip ? { ip: s.ip } : {}),
    ...(s.detail ? { detail: s.detail } : {}),
  });
  if (r.action !== 'none') ctx.log.info({ tenantId: s.tenantId, userId: s.userId, signal: s.kind, action: r.action }, 'risk action on identity signal');
}
