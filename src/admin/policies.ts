// Tenant policy profiles in the console: view, preview a change (validation + diff), apply it as a new version, history.
//
// Every reader of a policy reads the tenants row (src/tenants), directly or behind the accounts
// module's per-instance cache of HOT_STATE_TTL_MS (1 s): a committed change is in force on every
// instance within that bound, with no restart and no notification needed.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { inTx, sqlState, type Db } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { deepMerge, requireTenant, updatePolicy, validatePolicy, type Policy, type PolicyPatch } from '../tenants/index.ts';
import type { FieldError } from '../app/errors.ts';
import { adminDb, jsonOf } from './admin.table.ts';
import { policyDiff, type PolicyChange } from './policy-diff.ts';

export const POLICY_NOTE_MAX_CHARS = 500;
export const POLICY_VERSIONS_PAGE_MAX = 100;

export interface PolicyView {
  tenantId: string;
  preset: string;
  /** The console's version counter: 0 until the first change through the console. */
  version: number;
  policy: Policy;
  updatedAt: Date;
}

export interface PolicyPreview {
  valid: boolean;
  errors: FieldError[];
  changes: PolicyChange[];
  /** The profile as it would be (present when valid). */
  policy: Policy | null;
}

async function currentVersion(db: Db, tenantId: string): Promise<number> {
  const r = await adminDb(db)
    .selectFrom('admin_policy_versions')
    .select((eb) => eb.fn.max('version').as('v'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return r?.v == null ? 0 : Number(r.v);
}

export async function policyView(db: Db, tenantId: string): Promise<PolicyView> {
  const [t, version] = await Promise.all([requireTenant(db, tenantId), currentVersion(db, tenantId)]);
  return { tenantId, preset: t.preset, version, policy: t.policy, updatedAt: t.updatedAt };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a patch would do, without doing it. */
export function previewPatch(current: Policy, patch: unknown): PolicyPreview {
  if (!isPlainObject(patch)) return { valid: false, errors: [{ field: 'patch', message: 'must be an object' }], changes: [], policy: null };
  const next = deepMerge(current, patch);
  const errors = validatePolicy(next, 'patch');
  const changes = policyDiff(current, next);
  return { valid: errors.length === 0, errors, changes, policy: errors.length === 0 ? next : null };
}

export async function previewPolicy(db: Db, tenantId: string, patch: unknown): Promise<PolicyPreview & { version: number }> {
  const view = await policyView(db, tenantId);
  return { ...previewPatch(view.policy, patch), version: view.version };
}

export interface PolicyChangeRequest {
  tenantId: string;
  /** The version the operator looked at; another change since then is a conflict. */
  baseVersion: number;
  patch: PolicyPatch;
  note?: string;
  operatorId: string;
  requestId?: string;
}

/** Applies a patch as version baseVersion + 1; the version row's key refuses a concurrent writer. */
export async function changePolicy(ctx: AppContext, c: PolicyChangeRequest): Promise<PolicyView & { changes: PolicyChange[] }> {
  if (c.note !== undefined && [...c.note].length > POLICY_NOTE_MAX_CHARS) throw AppError.validation([{ field: 'note', message: `must be at most ${POLICY_NOTE_MAX_CHARS} characters` }]);
  const now = ctx.clock.now();
  try {
    return await inTx(ctx.db, async (tx) => {
      const a = adminDb(tx);
      const latest = await a.selectFrom('admin_policy_versions').select('version').where('tenant_id', '=', c.tenantId).orderBy('version', 'desc').limit(1).executeTakeFirst();
      const version = latest?.version ?? 0;
      if (version !== c.baseVersion) throw new AppError('conflict', `the policy changed since version ${c.baseVersion} (now ${version}); reload and preview again`, { currentVersion: version });
      const before = (await requireTenant(tx, c.tenantId)).policy;
      const preview = previewPatch(before, c.patch);
      if (!preview.valid) throw AppError.validation(preview.errors);
      if (preview.changes.length === 0) throw AppError.validation([{ field: 'patch', message: 'changes nothing' }]);
      const t = await updatePolicy(tx, c.tenantId, c.patch, now);
      await a
        .insertInto('admin_policy_versions')
        .values({ tenant_id: c.tenantId, version: version + 1, policy: JSON.stringify(t.policy), patch: JSON.stringify(c.patch), diff: JSON.stringify(preview.changes), note: c.note ?? null, author_id: c.operatorId, created_at: now })
        .execute();
      await recordAudit(tx, {
        tenantId: c.tenantId,
        actor: { kind: 'operator', id: c.operatorId },
        action: 'admin.policy_changed',
        subject: { kind: 'policy', id: `${c.tenantId}@${version + 1}` },
        outcome: 'ok',
        // Paths only: values are in the version row (a fen limit has as many digits as a phone number).
        detail: { version: version + 1, paths: preview.changes.map((x) => x.path).slice(0, 50) },
        ...(c.requestId ? { requestId: c.requestId } : {}),
        at: now,
      });
      return { tenantId: c.tenantId, preset: t.preset, version: version + 1, policy: t.policy, updatedAt: t.updatedAt, changes: preview.changes };
    });
  } catch (err) {
    if (sqlState(err) === '23505') throw new AppError('conflict', 'another change was saved at the same time; reload and preview again');
    throw err;
  }
}

export interface PolicyVersion {
  version: number;
  changes: PolicyChange[];
  note: string | null;
  authorId: string;
  createdAt: Date;
}

export async function policyVersions(db: Db, tenantId: string, limit = 20): Promise<PolicyVersion[]> {
  const rows = await adminDb(db)
    .selectFrom('admin_policy_versions')
    .select(['version', 'diff', 'note', 'author_id', 'created_at'])
    .where('tenant_id', '=', tenantId)
    .orderBy('version', 'desc')
    .limit(Math.min(Math.max(limit, 1), POLICY_VERSIONS_PAGE_MAX))
    .execute();
  return rows.map((r) => ({ version: r.version, changes: jsonOf<PolicyChange[]>(r.diff), note: r.note, authorId: r.author_id, createdAt: r.created_at }));
}
