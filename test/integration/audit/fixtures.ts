// Shared helpers for the audit tests: fresh tenants, entries, sealing at once, and SQL that bypasses the append-only triggers.
import { sql } from 'kysely';
import { inTx, type Db, type Tx } from '../../../src/db/tx.ts';
import { randomToken } from '../../../src/shared/ids.ts';
import { recordAudit, sealAudit, type AuditEntry } from '../../../src/audit/index.ts';

export const T0 = new Date('2026-03-02T01:00:00Z');

export function freshTenant(): string {
  return `t_${randomToken(6)}`;
}

export function entry(tenantId: string, n: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    tenantId,
    actor: { kind: 'cardholder', id: `usr_${n % 7}` },
    action: n % 3 === 0 ? 'transactions.read' : 'balance.read',
    subject: { kind: 'card', id: `card_${n % 5}` },
    outcome: 'ok',
    detail: { freshness: 'realtime', maskedNumber: '622848*********0018', n },
    ip: '10.1.2.3',
    deviceId: 'dev_test',
    requestId: `req_${n}`,
    at: new Date(T0.getTime() + n * 1_000),
    ...over,
  };
}

export async function recordMany(db: Db, tenantId: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) await recordAudit(db, entry(tenantId, i));
}

/** Seals everything committed, with no safety margin: for tests that know no writer is in flight. */
export function sealNow(db: Db) {
  return sealAudit({ db }, { now: T0, marginMs: 0 });
}

/**
 * Runs statements as someone who can switch the triggers off (the table owner / a superuser):
 * the tampering the hash chain exists to catch.
 */
export async function asSuperuser(db: Db, fn: (tx: Tx) => Promise<void>): Promise<void> {
  await inTx(db, async (tx) => {
    await sql`set local session_replication_role = replica`.execute(tx);
    await fn(tx);
  });
}

/** The seqs of a tenant's rows, oldest first. */
export async function seqsOf(db: Db, tenantId: string): Promise<bigint[]> {
  const rows = await db.selectFrom('audit_log').select('seq').where('tenant_id', '=', tenantId).orderBy('seq').execute();
  return rows.map((r) => BigInt(r.seq));
}
