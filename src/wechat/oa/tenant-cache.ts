// Per-tenant OA credentials and their MsgCrypto, cached briefly so the push path neither decrypts credentials nor derives keys per request.
import type { AppContext } from '../../app/context.ts';
import { getCredentials, type OaCredentials } from '../../tenants/index.ts';
import { MsgCrypto } from '../crypto/msg-crypto.ts';

/** A credential change (new token or key, mode switch) takes effect within this. */
export const OA_CREDENTIALS_TTL_MS = 30_000;
/** Unknown tenants are remembered for less, so a newly configured one answers soon. */
export const OA_UNKNOWN_TENANT_TTL_MS = 5_000;
/** Tenants kept; past this the oldest entry goes (insertion order). */
export const OA_CREDENTIALS_CACHE_MAX = 1_000;

export interface OaTenant {
  tenantId: string;
  oa: OaCredentials;
  crypto: MsgCrypto;
}

interface Entry {
  value: OaTenant | undefined;
  expiresAt: number;
}

export class OaTenantCache {
  readonly #entries = new Map<string, Entry>();
  readonly #loading = new Map<string, Promise<OaTenant | undefined>>();

  constructor(
    private readonly ctx: AppContext,
    private readonly opts: { ttlMs?: number; max?: number } = {},
  ) {}

  /** The tenant's OA set-up, or undefined when the tenant is unknown or has no Official Account. */
  get(tenantId: string): Promise<OaTenant | undefined> | OaTenant | undefined {
    const now = this.ctx.clock.now().getTime();
    const hit = this.#entries.get(tenantId);
    if (hit && hit.expiresAt > now) return hit.value;
    // Concurrent misses share one load.
    let loading = this.#loading.get(tenantId);
    if (!loading) {
      loading = this.#load(tenantId, now).finally(() => this.#loading.delete(tenantId));
      this.#loading.set(tenantId, loading);
    }
    return loading;
  }

  async #load(tenantId: string, now: number): Promise<OaTenant | undefined> {
    const creds = await getCredentials(this.ctx.db, this.ctx.crypto, tenantId);
    const oa = creds?.oa;
    const value = oa ? { tenantId, oa, crypto: new MsgCrypto(oa.token, oa.encodingAESKey, oa.appId) } : undefined;
    const max = this.opts.max ?? OA_CREDENTIALS_CACHE_MAX;
    this.#entries.delete(tenantId);
    while (this.#entries.size >= max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(tenantId, { value, expiresAt: now + (value ? (this.opts.ttlMs ?? OA_CREDENTIALS_TTL_MS) : OA_UNKNOWN_TENANT_TTL_MS) });
    return value;
  }
}
