// The export signing keys per tenant: RSA-2048 pairs, the private key encrypted at rest, public keys (current and retired) retrievable for partners.
import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { inTx, sqlState, type Db, type Tx } from '../../db/tx.ts';
import { randomToken } from '../../shared/ids.ts';
import type { FieldCrypto } from '../../shared/crypto.ts';
import { requireTenant } from '../../tenants/index.ts';

export const EXPORT_RSA_BITS = 2048;
const generate = promisify(generateKeyPair);
const UNIQUE_VIOLATION = '23505';

export interface ExportPublicKey {
  kid: string;
  publicKeyPem: string;
  createdAt: Date;
  /** Retired keys sign nothing new; their public half still verifies the files they signed. */
  retiredAt: Date | null;
}

async function newPair(): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  const { publicKey, privateKey } = await generate('rsa', {
    modulusLength: EXPORT_RSA_BITS,
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

async function insertKey(tx: Tx, crypto: FieldCrypto, tenantId: string, pair: { publicKeyPem: string; privateKeyPem: string }, now: Date): Promise<ExportPublicKey> {
  const kid = `rsa${randomToken(8)}`;
  await tx
    .insertInto('notify_export_keys')
    .values({ tenant_id: tenantId, kid, public_key_pem: pair.publicKeyPem, private_key_enc: crypto.encrypt(pair.privateKeyPem), created_at: now, retired_at: null })
    .execute();
  return { kid, publicKeyPem: pair.publicKeyPem, createdAt: now, retiredAt: null };
}

/**
 * Turns the daily export on for a tenant: a signing key pair is made unless one is active. Returns
 * the active public key (to hand to the partners who verify the files).
 */
export async function enableDailyExport(ctx: AppContext, tenantId: string): Promise<ExportPublicKey> {
  const current = await currentExportKey(ctx.db, tenantId);
  if (current) return current;
  // Generated outside the transaction: it takes a moment and touches no row.
  const pair = await newPair();
  try {
    return await inTx(ctx.db, async (tx) => {
      await requireTenant(tx, tenantId);
      return insertKey(tx, ctx.crypto, tenantId, pair, ctx.clock.now());
    });
  } catch (err) {
    // Another instance enabled it at the same moment (one active key per tenant: unique index).
    if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    const winner = await currentExportKey(ctx.db, tenantId);
    if (!winner) throw err;
    return winner;
  }
}

/** A new signing key; the previous one is retired (its public key stays listed for old files). */
export async function rotateExportKey(ctx: AppContext, tenantId: string): Promise<ExportPublicKey> {
  const pair = await newPair();
  return inTx(ctx.db, async (tx) => {
    const now = ctx.clock.now();
    const retired = await tx.updateTable('notify_export_keys').set({ retired_at: now }).where('tenant_id', '=', tenantId).where('retired_at', 'is', null).executeTakeFirst();
    if (Number(retired.numUpdatedRows) === 0) throw new AppError('conflict', 'the daily export is not enabled for this tenant');
    return insertKey(tx, ctx.crypto, tenantId, pair, now);
  });
}

/** Turns the daily export off: the active key is retired, so no new file is made. */
export async function disableDailyExport(ctx: AppContext, tenantId: string): Promise<void> {
  await ctx.db.updateTable('notify_export_keys').set({ retired_at: ctx.clock.now() }).where('tenant_id', '=', tenantId).where('retired_at', 'is', null).execute();
}

export async function currentExportKey(db: Db | Tx, tenantId: string): Promise<ExportPublicKey | undefined> {
  const r = await db.selectFrom('notify_export_keys').selectAll().where('tenant_id', '=', tenantId).where('retired_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirst();
  return r ? { kid: r.kid, publicKeyPem: r.public_key_pem, createdAt: r.created_at, retiredAt: r.retired_at } : undefined;
}

/** Every public key of the tenant, newest first (partners fetch these to verify files by `kid`). */
export async function exportPublicKeys(db: Db, tenantId: string): Promise<ExportPublicKey[]> {
  const rows = await db.selectFrom('notify_export_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').orderBy('kid').execute();
  return rows.map((r) => ({ kid: r.kid, publicKeyPem: r.public_key_pem, createdAt: r.created_at, retiredAt: r.retired_at }));
}

/** The active key's private half, decrypted (signing only). */
export async function signingKey(db: Db, crypto: FieldCrypto, tenantId: string): Promise<{ kid: string; privateKeyPem: string } | undefined> {
  const r = await db.selectFrom('notify_export_keys').select(['kid', 'private_key_enc']).where('tenant_id', '=', tenantId).where('retired_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirst();
  return r ? { kid: r.kid, privateKeyPem: crypto.decrypt(r.private_key_enc) } : undefined;
}

/** Tenants with the export enabled, at most `limit`. */
export async function exportTenants(db: Db, limit: number): Promise<string[]> {
  const rows = await db.selectFrom('notify_export_keys').select('tenant_id').distinct().where('retired_at', 'is', null).orderBy('tenant_id').limit(limit).execute();
  return rows.map((r) => r.tenant_id);
}
