// Operator accounts: create (argon2id password + TOTP secret), list, disable; the first-admin bootstrap and the demo seed use these.
import { hash } from '@node-rs/argon2';
import { generateSecret, generateURI } from 'otplib';
import type { Selectable } from 'kysely';
import type { AppContext } from '../app/context.ts';
import { AppError, type FieldError } from '../app/errors.ts';
import { inTx, type Db, type Tx } from '../db/tx.ts';
import { recordAudit } from '../audit/index.ts';
import { getTenant } from '../tenants/index.ts';
import { newId } from '../shared/ids.ts';
import { adminDb, type AdminOperatorRow, type OperatorRole } from './admin.table.ts';
import { OPERATOR_ROLES } from './rbac.ts';

/** The audit chain platform-wide operator actions are recorded in (never a tenant id: those match TENANT_ID_PATTERN). */
export const PLATFORM_AUDIT_TENANT = '_platform';
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{2,39}$/;
/** NIST SP 800-63B: at least 8; an operator console of a bank asks for more. */
export const PASSWORD_MIN_CHARS = 12;
export const PASSWORD_MAX_CHARS = 128;
const DISPLAY_NAME_MAX_CHARS = 64;
/** argon2id (algorithm 2) with the library's defaults (m=19 MiB, t=2, p=1: OWASP's minimum profile). */
export const ARGON2ID = 2;
export const TOTP_ISSUER = 'wecard';

export interface Operator {
  id: string;
  tenantId: string | null;
  username: string;
  displayName: string;
  role: OperatorRole;
  disabled: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export function toOperator(r: Pick<AdminOperatorRow, 'id' | 'tenant_id' | 'username' | 'display_name' | 'role' | 'disabled_at' | 'last_login_at'> & { created_at: Date }): Operator {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    username: r.username,
    displayName: r.display_name,
    role: r.role,
    disabled: r.disabled_at !== null,
    createdAt: r.created_at,
    lastLoginAt: r.last_login_at,
  };
}

export interface NewOperator {
  tenantId: string | null;
  username: string;
  displayName: string;
  role: OperatorRole;
  password: string;
  /** A known secret (the demo seed's); default: a fresh random one. */
  totpSecret?: string;
  /** Who creates it: an operator id, or 'cli' / 'seed'. */
  createdBy: string;
}

export interface CreatedOperator {
  operator: Operator;
  /** Shown once, to be put into an authenticator app; never answered again. */
  totpSecret: string;
  otpauthUri: string;
}

function checkNew(n: NewOperator): void {
  const errors: FieldError[] = [];
  if (typeof n.username !== 'string' || !USERNAME_PATTERN.test(n.username)) errors.push({ field: 'username', message: 'must be 3–40 lower-case letters, digits, dots, hyphens or underscores' });
  if (typeof n.displayName !== 'string' || n.displayName.trim().length === 0 || [...n.displayName].length > DISPLAY_NAME_MAX_CHARS) errors.push({ field: 'displayName', message: `must be 1–${DISPLAY_NAME_MAX_CHARS} characters` });
  if (!(OPERATOR_ROLES as readonly string[]).includes(n.role)) errors.push({ field: 'role', message: `must be one of ${OPERATOR_ROLES.join(', ')}` });
  if (typeof n.password !== 'string' || n.password.length < PASSWORD_MIN_CHARS || n.password.length > PASSWORD_MAX_CHARS) errors.push({ field: 'password', message: `must be ${PASSWORD_MIN_CHARS}–${PASSWORD_MAX_CHARS} characters` });
  if (n.totpSecret !== undefined && !/^[A-Z2-7]{16,64}$/.test(n.totpSecret)) errors.push({ field: 'totpSecret', message: 'must be base32, 16–64 characters' });
  if (errors.length > 0) throw AppError.validation(errors);
}

/**
 * Creates an operator (hashing outside the transaction: argon2 takes tens of ms of CPU).
 * `passwordHash` lets the demo seed hash its one shared demo password once.
 */
export async function createOperator(ctx: AppContext, n: NewOperator, opts: { passwordHash?: string } = {}): Promise<CreatedOperator> {
  checkNew(n);
  if (n.tenantId !== null && !(await getTenant(ctx.db, n.tenantId))) throw new AppError('not_found', `no tenant ${n.tenantId}`);
  const passwordHash = opts.passwordHash ?? (await hash(n.password, { algorithm: ARGON2ID }));
  const totpSecret = n.totpSecret ?? generateSecret();
  const now = ctx.clock.now();
  const id = newId('op');
  const row = await inTx(ctx.db, async (tx) => {
    const a = adminDb(tx);
    const taken = await a.selectFrom('admin_operators').select('id').where('username', '=', n.username).executeTakeFirst();
    if (taken) throw new AppError('conflict', `username ${n.username} is taken`);
    const r = await a
      .insertInto('admin_operators')
      .values({
        id,
        tenant_id: n.tenantId,
        username: n.username,
        display_name: n.displayName.trim(),
        role: n.role,
        password_hash: passwordHash,
        totp_secret_enc: ctx.crypto.encrypt(totpSecret),
        totp_last_step: null,
        disabled_at: null,
        created_by: n.createdBy,
        created_at: now,
        updated_at: now,
        last_login_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, {
      tenantId: n.tenantId ?? PLATFORM_AUDIT_TENANT,
      actor: { kind: n.createdBy.startsWith('op_') ? 'operator' : 'system', id: n.createdBy },
      action: 'admin.operator_created',
      subject: { kind: 'operator', id },
      outcome: 'ok',
      detail: { username: n.username, role: n.role },
      at: now,
    });
    return r;
  });
  return {
    operator: toOperator(row),
    totpSecret,
    otpauthUri: generateURI({ issuer: TOTP_ISSUER, label: n.username, secret: totpSecret }),
  };
}

/** Operators one caller may see: a tenant's, or with `tenantId` undefined (platform callers) all. */
export async function listOperators(db: Db, tenantId: string | undefined): Promise<Operator[]> {
  let q = adminDb(db).selectFrom('admin_operators').select(['id', 'tenant_id', 'username', 'display_name', 'role', 'disabled_at', 'last_login_at', 'created_at']);
  if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
  return (await q.orderBy('username').limit(1_000).execute()).map(toOperator);
}

export async function getOperatorRow(db: Db | Tx, id: string): Promise<Selectable<AdminOperatorRow> | undefined> {
  return (await adminDb(db).selectFrom('admin_operators').selectAll().where('id', '=', id).executeTakeFirst()) as Selectable<AdminOperatorRow> | undefined;
}

/** Disables an operator and ends their sessions at once. */
export async function disableOperator(ctx: AppContext, x: { operatorId: string; by: string; auditTenant: string }): Promise<Operator> {
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    const a = adminDb(tx);
    const r = await a.updateTable('admin_operators').set({ disabled_at: now, updated_at: now }).where('id', '=', x.operatorId).returningAll().executeTakeFirst();
    if (!r) throw new AppError('not_found', 'no such operator');
    await a.updateTable('admin_sessions').set({ revoked_at: now }).where('operator_id', '=', x.operatorId).where('revoked_at', 'is', null).execute();
    await recordAudit(tx, { tenantId: x.auditTenant, actor: { kind: 'operator', id: x.by }, action: 'admin.operator_disabled', subject: { kind: 'operator', id: x.operatorId }, outcome: 'ok', at: now });
    return toOperator(r);
  });
}

/** True when no platform admin exists yet (the CLI refuses to make a second "first" admin). */
export async function hasPlatformAdmin(db: Db): Promise<boolean> {
  const r = await adminDb(db).selectFrom('admin_operators').select('id').where('tenant_id', 'is', null).where('role', '=', 'admin').where('disabled_at', 'is', null).executeTakeFirst();
  return r !== undefined;
}
