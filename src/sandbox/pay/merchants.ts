// The sandbox platform's merchants: mchid → tenant, the merchant's public key (derived from its private key), the platform key that signs, and platform key rotation.
import { createPrivateKey, createPublicKey, generateKeyPair, randomInt, type KeyObject } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { inTx } from '../../db/tx.ts';
import { getCredentials, listTenants, type PayCredentials } from '../../tenants/index.ts';
import { insertPlatformKey, newestPlatformKey } from './store.ts';

/** mchids remembered. */
export const MERCHANT_CACHE_MAX = 10_000;
const RSA_BITS = 2048;

export interface SandboxMerchant {
  tenantId: string;
  pay: PayCredentials;
  /** Verifies the merchant's request signatures. */
  merchantPublicKey: KeyObject;
  appIds: string[];
  oaAppId: string | undefined;
  miniAppId: string | undefined;
}

export interface SigningKey {
  serialNo: string;
  key: KeyObject;
}

/**
 * mchid → tenant id. An unknown mchid costs one query of the tenants; only tenants created or
 * changed since the last look have their credentials decrypted again.
 */
export class MerchantDirectory {
  readonly #byMchId = new Map<string, string>();
  readonly #seen = new Map<string, number>();

  constructor(private readonly ctx: AppContext) {}

  #inFlight: Promise<void> | undefined;

  /** One refresh at a time, shared by concurrent callers: a caller must not see a tenant marked seen before its mchid is stored. */
  #refresh(): Promise<void> {
    this.#inFlight ??= this.#load().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #load(): Promise<void> {
    for (const t of await listTenants(this.ctx.db)) {
      const version = t.updatedAt.getTime();
      if (this.#seen.get(t.id) === version || this.#seen.size >= MERCHANT_CACHE_MAX) continue;
      this.#seen.set(t.id, version);
      const mchId = t.hasCredentials ? (await getCredentials(this.ctx.db, this.ctx.crypto, t.id))?.pay?.mchId : undefined;
      if (mchId) this.#byMchId.set(mchId, t.id);
    }
  }

  /** The merchant with this mchid, or undefined. */
  async find(mchId: string): Promise<SandboxMerchant | undefined> {
    let tenantId = this.#byMchId.get(mchId);
    if (!tenantId) {
      await this.#refresh();
      tenantId = this.#byMchId.get(mchId);
    }
    if (!tenantId) return undefined;
    const merchant = await merchantOf(this.ctx, tenantId);
    if (merchant?.pay.mchId !== mchId) {
      // Credentials changed since the look.
      this.#byMchId.delete(mchId);
      this.#seen.delete(tenantId);
      return undefined;
    }
    return merchant;
  }
}

export async function merchantOf(ctx: AppContext, tenantId: string): Promise<SandboxMerchant | undefined> {
  const creds = await getCredentials(ctx.db, ctx.crypto, tenantId);
  if (!creds?.pay) return undefined;
  return {
    tenantId,
    pay: creds.pay,
    merchantPublicKey: createPublicKey(createPrivateKey(creds.pay.merchantPrivateKeyPem)),
    appIds: [creds.oa?.appId, creds.miniProgram?.appId].filter((v): v is string => typeof v === 'string'),
    oaAppId: creds.oa?.appId,
    miniAppId: creds.miniProgram?.appId,
  };
}

/** The key the platform signs this tenant's answers and notifications with: the newest rotated one, else the configured one. */
export async function signingKeyOf(ctx: AppContext, merchant: SandboxMerchant): Promise<SigningKey | undefined> {
  const rotated = await newestPlatformKey(ctx.db, merchant.tenantId);
  if (rotated) return { serialNo: rotated.serial_no, key: createPrivateKey(ctx.crypto.decrypt(rotated.private_key_enc)) };
  if (!merchant.pay.platformPrivateKeyPem) return undefined;
  return { serialNo: merchant.pay.platformSerialNo, key: createPrivateKey(merchant.pay.platformPrivateKeyPem) };
}

function rsaPair(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      'rsa',
      { modulusLength: RSA_BITS, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } },
      (err, publicKeyPem, privateKeyPem) => (err ? reject(err) : resolve({ privateKeyPem, publicKeyPem })),
    ),
  );
}

/**
 * Rotates the tenant's platform key: a new pair under a new `PUB_KEY_ID_…` signs from now on. The
 * merchant verifies it only after adding the public key (the console download, in real life).
 */
export async function rotatePlatformKey(ctx: AppContext, tenantId: string): Promise<{ serialNo: string; publicKeyPem: string }> {
  const merchant = await merchantOf(ctx, tenantId);
  if (!merchant) throw new AppError('not_found', `tenant ${tenantId} has no WeChat Pay merchant`);
  const pair = await rsaPair();
  let digits = '';
  for (let i = 0; i < 26; i++) digits += String(randomInt(10));
  const serialNo = `PUB_KEY_ID_01${digits}`;
  await inTx(ctx.db, (tx) =>
    insertPlatformKey(tx, { tenant_id: tenantId, serial_no: serialNo, public_key_pem: pair.publicKeyPem, private_key_enc: ctx.crypto.encrypt(pair.privateKeyPem), created_at: ctx.clock.now() }),
  );
  ctx.log.info({ tenantId, serialNo }, 'sandbox WeChat Pay platform key rotated');
  return { serialNo, publicKeyPem: pair.publicKeyPem };
}
