// Card-system links per tenant and their versioned SM4/HMAC-SM3 keys (encrypted at rest); hand-over, rotation, retirement and the feed's health for the console.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { inTx, type Db, type Tx } from '../../db/tx.ts';
import { randomToken } from '../../shared/ids.ts';
import type { FieldCrypto } from '../../shared/crypto.ts';
import { requireTenant } from '../../tenants/index.ts';
import { CARDSYS_MAC_KEY_BYTES, CARDSYS_SM4_KEY_BYTES, type CardsysKey } from './wire.ts';

/** Keys a tenant may hold at once (current plus ones being rotated out). */
export const CARDSYS_MAX_ACTIVE_KEYS = 3;

/** Key material as handed to the card system's operator (hex). Shown on creation; treat as a secret. */
export interface CardsysKeyMaterial {
  kid: string;
  sm4KeyHex: string;
  macKeyHex: string;
}

function newMaterial(given?: { sm4KeyHex: string; macKeyHex: string }): CardsysKeyMaterial {
  const sm4KeyHex = given?.sm4KeyHex.toLowerCase() ?? randomBytes(CARDSYS_SM4_KEY_BYTES).toString('hex');
  const macKeyHex = given?.macKeyHex.toLowerCase() ?? randomBytes(CARDSYS_MAC_KEY_BYTES).toString('hex');
  if (!/^[0-9a-f]+$/.test(sm4KeyHex) || sm4KeyHex.length !== CARDSYS_SM4_KEY_BYTES * 2) {
    throw AppError.validation([{ field: 'sm4KeyHex', message: `must be ${CARDSYS_SM4_KEY_BYTES} bytes in hex` }]);
  }
  if (!/^[0-9a-f]+$/.test(macKeyHex) || macKeyHex.length !== CARDSYS_MAC_KEY_BYTES * 2) {
    throw AppError.validation([{ field: 'macKeyHex', message: `must be ${CARDSYS_MAC_KEY_BYTES} bytes in hex` }]);
  }
  return { kid: `k${randomToken(8)}`, sm4KeyHex, macKeyHex };
}

async function insertKey(tx: Tx, crypto: FieldCrypto, tenantId: string, m: CardsysKeyMaterial, now: Date): Promise<void> {
  await tx
    .insertInto('notify_cardsys_keys')
    .values({ tenant_id: tenantId, kid: m.kid, enc_key_enc: crypto.encrypt(m.sm4KeyHex), mac_key_enc: crypto.encrypt(m.macKeyHex), created_at: now, retired_at: null })
    .execute();
}

/**
 * Links the tenant to its card system: creates the link and a first key (generated, or the one
 * the card system's operator supplies). Linking an already linked tenant re-enables it and
 * returns `created: false` without new key material.
 */
export async function linkCardSystem(
  ctx: AppContext,
  tenantId: string,
  given?: { sm4KeyHex: string; macKeyHex: string },
): Promise<{ created: boolean; key: CardsysKeyMaterial | undefined }> {
  const now = ctx.clock.now();
  return inTx(ctx.db, async (tx) => {
    await requireTenant(tx, tenantId);
    const existing = await tx.selectFrom('notify_cardsys_links').select('tenant_id').where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    if (existing) {
      await tx.updateTable('notify_cardsys_links').set({ disabled_at: null }).where('tenant_id', '=', tenantId).execute();
      return { created: false, key: undefined };
    }
    await tx.insertInto('notify_cardsys_links').values({ tenant_id: tenantId, created_at: now, disabled_at: null, last_sync_requested_at: null, last_full_sync_at: null, last_snapshot_id: null, last_snapshot_drifted: null, drift_flagged_at: null }).execute();
    const key = newMaterial(given);
    await insertKey(tx, ctx.crypto, tenantId, key, now);
    return { created: true, key };
  });
}

/** Adds a new key (the newest is the one wecard seals with); older keys keep opening messages until retired. */
export async function rotateCardSystemKey(ctx: AppContext, tenantId: string, given?: { sm4KeyHex: string; macKeyHex: string }): Promise<CardsysKeyMaterial> {
  return inTx(ctx.db, async (tx) => {
    const link = await tx.selectFrom('notify_cardsys_links').select('tenant_id').where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
    if (!link) throw new AppError('not_found', `tenant ${tenantId} has no card-system link`);
    const active = await tx.selectFrom('notify_cardsys_keys').select('kid').where('tenant_id', '=', tenantId).where('retired_at', 'is', null).execute();
    if (active.length >= CARDSYS_MAX_ACTIVE_KEYS) throw new AppError('conflict', `retire a key first: at most ${CARDSYS_MAX_ACTIVE_KEYS} keys are active at once`);
    const key = newMaterial(given);
    await insertKey(tx, ctx.crypto, tenantId, key, ctx.clock.now());
    return key;
  });
}

/** Retires a key: messages sealed with it are refused from now on. The last active key cannot be retired. */
export async function retireCardSystemKey(ctx: AppContext, tenantId: string, kid: string): Promise<void> {
  await inTx(ctx.db, async (tx) => {
    const active = await tx.selectFrom('notify_cardsys_keys').select('kid').where('tenant_id', '=', tenantId).where('retired_at', 'is', null).forUpdate().execute();
    if (!active.some((k) => k.kid === kid)) throw new AppError('not_found', `no active key ${kid}`);
    if (active.length === 1) throw new AppError('conflict', 'the last active key cannot be retired; rotate first');
    await tx.updateTable('notify_cardsys_keys').set({ retired_at: ctx.clock.now() }).where('tenant_id', '=', tenantId).where('kid', '=', kid).execute();
  });
}

export async function disableCardSystemLink(ctx: AppContext, tenantId: string): Promise<void> {
  const r = await ctx.db.updateTable('notify_cardsys_links').set({ disabled_at: ctx.clock.now() }).where('tenant_id', '=', tenantId).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new AppError('not_found', `tenant ${tenantId} has no card-system link`);
}

/** The active keys of an enabled link, newest first (empty when the tenant has no enabled link). */
export async function activeKeys(db: Db | Tx, crypto: FieldCrypto, tenantId: string): Promise<CardsysKey[]> {
  const rows = await db
    .selectFrom('notify_cardsys_keys as k')
    .innerJoin('notify_cardsys_links as l', 'l.tenant_id', 'k.tenant_id')
    .select(['k.kid', 'k.enc_key_enc', 'k.mac_key_enc'])
    .where('k.tenant_id', '=', tenantId)
    .where('k.retired_at', 'is', null)
    .where('l.disabled_at', 'is', null)
    .orderBy('k.created_at', 'desc')
    .orderBy('k.kid', 'desc')
    .execute();
  return rows.map((r) => ({ kid: r.kid, enc: Buffer.from(crypto.decrypt(r.enc_key_enc), 'hex'), mac: Buffer.from(crypto.decrypt(r.mac_key_enc), 'hex') }));
}

/**
 * The current key in clear, for the other party: the sandbox card system, and the console's
 * one-time hand-over to the card system's operator. Never log or return it elsewhere.
 */
export async function cardSystemKeyForPeer(ctx: AppContext, tenantId: string): Promise<CardsysKeyMaterial | undefined> {
  const [k] = await activeKeys(ctx.db, ctx.crypto, tenantId);
  return k ? { kid: k.kid, sm4KeyHex: k.enc.toString('hex'), macKeyHex: k.mac.toString('hex') } : undefined;
}

export interface CardFeedStatus {
  tenantId: string;
  enabled: boolean;
  lastSyncRequestedAt: Date | null;
  lastFullSyncAt: Date | null;
  lastSnapshotId: string | null;
  /** Cards the last snapshot corrected (status events the feed had missed). */
  lastSnapshotDrifted: number | null;
  /** Set while no full sync has completed for too long. */
  driftFlaggedAt: Date | null;
  activeKeyIds: string[];
}

/** The feed's health for one tenant (operator console). */
export async function cardFeedStatus(db: Db, tenantId: string): Promise<CardFeedStatus | undefined> {
  const link = await db.selectFrom('notify_cardsys_links').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  if (!link) return undefined;
  const keys = await db.selectFrom('notify_cardsys_keys').select('kid').where('tenant_id', '=', tenantId).where('retired_at', 'is', null).orderBy('created_at', 'desc').execute();
  return {
    tenantId,
    enabled: link.disabled_at === null,
    lastSyncRequestedAt: link.last_sync_requested_at,
    lastFullSyncAt: link.last_full_sync_at,
    lastSnapshotId: link.last_snapshot_id,
    lastSnapshotDrifted: link.last_snapshot_drifted,
    driftFlaggedAt: link.drift_flagged_at,
    activeKeyIds: keys.map((k) => k.kid),
  };
}

/** Enabled links, oldest first, at most `limit`. */
export async function enabledLinks(db: Db, limit: number) {
  return db.selectFrom('notify_cardsys_links').selectAll().where('disabled_at', 'is', null).orderBy('tenant_id').limit(limit).execute();
}
