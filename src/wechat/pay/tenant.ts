// A tenant's WeChat Pay set-up: merchant key and serial, APIv3 key, its app ids, and the platform key set (configured key plus stored extras).
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { inTx } from '../../db/tx.ts';
import { getCredentials, type PayCredentials } from '../../tenants/index.ts';
import { PLATFORM_KEYS_MAX, PlatformKeySet, isSerial, normaliseSerial, platformKeyFromPem, type PlatformKey } from './keys.ts';
import { countPlatformKeys, deletePlatformKey, platformKeysOf, upsertPlatformKey } from './store.ts';

export interface PayTenant {
  tenantId: string;
  mchId: string;
  merchantSerialNo: string;
  merchantKey: KeyObject;
  /** Used as raw bytes for AES-256-GCM. Secret: never logged. */
  apiV3Key: string;
  /** The configured platform serial: sent as `Wechatpay-Serial` when it is a public key id (§4.11). */
  platformSerialNo: string;
  platformKeys: PlatformKeySet;
  /** The tenant's OA and mini-program app ids: the only appids its payments may carry. */
  appIds: string[];
}

/** Reads the stored extra keys; one that no longer parses is skipped (and logged), never fatal. */
async function storedKeys(ctx: AppContext, tenantId: string): Promise<PlatformKey[]> {
  const rows = await platformKeysOf(ctx.db, tenantId, PLATFORM_KEYS_MAX);
  const out: PlatformKey[] = [];
  for (const r of rows) {
    try {
      out.push(platformKeyOf(r.pem, r.serial_no));
    } catch (err) {
      ctx.log.warn({ tenantId, serialNo: r.serial_no, reason: (err as Error).message }, 'stored WeChat Pay platform key skipped');
    }
  }
  return out;
}

/**
 * Parsed keys by their exact PEM text (and serial): parsing RSA PEMs on every notification costs
 * more than the rest of its crypto. Keyed by content, so a rotated or replaced key is simply a new
 * entry; bounded so a stream of distinct keys cannot grow it without limit.
 */
const PARSED_KEYS_MAX = 256;
const parsedKeys = new Map<string, KeyObject | PlatformKey>();

function cachedParse<T extends KeyObject | PlatformKey>(cacheKey: string, parse: () => T): T {
  const hit = parsedKeys.get(cacheKey);
  if (hit) return hit as T;
  const value = parse();
  if (parsedKeys.size >= PARSED_KEYS_MAX) parsedKeys.delete(parsedKeys.keys().next().value as string);
  parsedKeys.set(cacheKey, value);
  return value;
}

const merchantKeyOf = (pem: string): KeyObject => cachedParse(`m\0${pem}`, () => createPrivateKey(pem));
const platformKeyOf = (pem: string, serialNo: string): PlatformKey => cachedParse(`p\0${serialNo}\0${pem}`, () => platformKeyFromPem(pem, serialNo));

function configuredKey(pay: PayCredentials): PlatformKey {
  return platformKeyOf(pay.platformPublicKeyPem, pay.platformSerialNo);
}

/** The tenant's Pay set-up; `not_found` when the tenant is unknown or has no Pay credentials. */
export async function loadPayTenant(ctx: AppContext, tenantId: string): Promise<PayTenant> {
  const creds = await getCredentials(ctx.db, ctx.crypto, tenantId);
  const pay = creds?.pay;
  if (!pay) throw new AppError('not_found', 'no WeChat Pay merchant is configured here');
  const keys = [configuredKey(pay), ...(await storedKeys(ctx, tenantId))];
  return {
    tenantId,
    mchId: pay.mchId,
    merchantSerialNo: pay.merchantSerialNo,
    merchantKey: merchantKeyOf(pay.merchantPrivateKeyPem),
    apiV3Key: pay.apiV3Key,
    platformSerialNo: normaliseSerial(pay.platformSerialNo),
    platformKeys: new PlatformKeySet(keys),
    appIds: [creds.oa?.appId, creds.miniProgram?.appId].filter((v): v is string => typeof v === 'string'),
  };
}

/**
 * How long a notification may be checked against a tenant's Pay set-up read earlier: every
 * notification would otherwise read and decrypt the credentials and read the stored keys (two
 * statements, more than the rest of its work once notifications are group-committed). A notification
 * that fails any check against a remembered set-up is checked again against a fresh read, so a
 * rotated key or APIv3 key works at once; only a removal (of a key, or of the merchant) takes up to
 * this long to reach the other instances (this one forgets at once).
 */
export const PAY_TENANT_REUSE_MS = 2_000;

const remembered = new WeakMap<AppContext, Map<string, { at: number; tenant: PayTenant }>>();

/** The tenant's Pay set-up for checking a notification: a recent read when there is one (`reused`). */
export async function payTenantForNotification(ctx: AppContext, tenantId: string, opts: { fresh?: boolean } = {}): Promise<{ tenant: PayTenant; reused: boolean }> {
  let byTenant = remembered.get(ctx);
  if (!byTenant) remembered.set(ctx, (byTenant = new Map()));
  const hit = byTenant.get(tenantId);
  const nowMs = performance.now();
  if (!opts.fresh && hit && nowMs - hit.at < PAY_TENANT_REUSE_MS) return { tenant: hit.tenant, reused: true };
  const tenant = await loadPayTenant(ctx, tenantId);
  // Bounded: a stream of tenant ids (each must exist to get here) cannot grow it without limit.
  if (byTenant.size >= PLATFORM_KEYS_MAX * 64) byTenant.clear();
  byTenant.set(tenantId, { at: nowMs, tenant });
  return { tenant, reused: false };
}

/** Drops this instance's remembered set-up of the tenant (after a key change here). */
export function forgetPayTenant(ctx: AppContext, tenantId: string): void {
  remembered.get(ctx)?.delete(tenantId);
}

/**
 * Adds a platform key beside the configured one (a new `PUB_KEY_ID_…` during rotation, or a
 * certificate during the certificate-to-public-key migration). Both verify until one is removed.
 */
export async function addPlatformKey(ctx: AppContext, tenantId: string, input: { pem: string; serialNo?: string }): Promise<{ serialNo: string; kind: PlatformKey['kind'] }> {
  let key: PlatformKey;
  try {
    key = platformKeyFromPem(input.pem, input.serialNo);
  } catch (err) {
    throw AppError.validation([{ field: 'pem', message: (err as Error).message }]);
  }
  await inTx(ctx.db, async (tx) => {
    if ((await countPlatformKeys(tx, tenantId)) >= PLATFORM_KEYS_MAX - 1) throw new AppError('conflict', `at most ${PLATFORM_KEYS_MAX - 1} extra platform keys`);
    await upsertPlatformKey(tx, {
      tenant_id: tenantId,
      serial_no: key.serialNo,
      kind: key.kind,
      pem: input.pem,
      not_before: key.notBefore ?? null,
      not_after: key.notAfter ?? null,
      added_at: ctx.clock.now(),
    });
  });
  forgetPayTenant(ctx, tenantId);
  ctx.log.info({ tenantId, serialNo: key.serialNo, kind: key.kind }, 'WeChat Pay platform key added');
  return { serialNo: key.serialNo, kind: key.kind };
}

/** Removes a stored extra key (the configured one is changed with the tenant's credentials). */
export async function removePlatformKey(ctx: AppContext, tenantId: string, serialNo: string): Promise<boolean> {
  if (!isSerial(serialNo)) throw AppError.validation([{ field: 'serialNo', message: 'is not a platform serial' }]);
  const removed = await inTx(ctx.db, (tx) => deletePlatformKey(tx, tenantId, normaliseSerial(serialNo)));
  forgetPayTenant(ctx, tenantId);
  if (removed) ctx.log.info({ tenantId, serialNo }, 'WeChat Pay platform key removed');
  return removed;
}
