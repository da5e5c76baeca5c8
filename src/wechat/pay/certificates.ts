// Platform certificates (old mode): download with GET /v3/certificates, decrypt with the APIv3 key, verify the answer with the certificates it carries, keep them by serial (§4.11).
import type { AppContext } from '../../app/context.ts';
import { AeadError, decryptResource } from './aead.ts';
import { jsonOf, payFetch, PayApiError, platformSignatureProblem } from './http.ts';
import { PLATFORM_KEYS_MAX, PlatformKeySet, platformKeyFromPem, type PlatformKey } from './keys.ts';
import { addPlatformKey, loadPayTenant } from './tenant.ts';

export interface DecryptedCertificate {
  key: PlatformKey;
  pem: string;
}

/**
 * The certificates of a `/v3/certificates` answer: each `encrypt_certificate` decrypted with the
 * APIv3 key (associated_data `certificate`), its serial checked against the certificate itself.
 */
export function certificatesFromAnswer(apiV3Key: string, answer: unknown): DecryptedCertificate[] {
  const data = (answer as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length > PLATFORM_KEYS_MAX) throw new PayApiError('platform', 200, 'INVALID_RESPONSE', 'the certificates answer has no bounded data list');
  return data.map((item: unknown) => {
    const it = item as { serial_no?: unknown; encrypt_certificate?: { algorithm?: unknown; nonce?: unknown; associated_data?: unknown; ciphertext?: unknown } };
    const enc = it?.encrypt_certificate;
    if (typeof it?.serial_no !== 'string' || !enc) throw new PayApiError('platform', 200, 'INVALID_RESPONSE', 'a certificate entry lacks serial_no or encrypt_certificate');
    let pem: string;
    try {
      pem = decryptResource(apiV3Key, {
        algorithm: String(enc.algorithm),
        nonce: String(enc.nonce),
        associated_data: typeof enc.associated_data === 'string' ? enc.associated_data : '',
        ciphertext: String(enc.ciphertext),
      });
    } catch (err) {
      if (err instanceof AeadError) throw new PayApiError('signature', 200, 'INVALID_RESPONSE', 'a certificate does not decrypt with the APIv3 key');
      throw err;
    }
    try {
      return { key: platformKeyFromPem(pem, it.serial_no), pem };
    } catch (err) {
      throw new PayApiError('platform', 200, 'INVALID_RESPONSE', `certificate ${it.serial_no.slice(0, 64)}: ${(err as Error).message}`);
    }
  });
}

/**
 * Downloads the platform certificates and keeps them beside the configured key, so answers and
 * notifications signed under any of them verify during a rotation. The answer must verify with a
 * key we already hold or with a certificate it carries (the bootstrap the platform intends).
 * A merchant in public-key mode has none: the platform answers 404 RESOURCE_NOT_EXISTS → [].
 */
export async function refreshPlatformCertificates(ctx: AppContext, tenantId: string): Promise<{ serialNo: string; notAfter: Date | undefined }[]> {
  const tenant = await loadPayTenant(ctx, tenantId);
  const path = '/v3/certificates?algorithm_type=RSA';
  let res: Awaited<ReturnType<typeof payFetch>>;
  try {
    res = await payFetch(ctx, tenant, { method: 'GET', path, unsigned: true });
  } catch (err) {
    if (err instanceof PayApiError && err.kind === 'platform' && err.status === 404 && err.code === 'RESOURCE_NOT_EXISTS') return [];
    throw err;
  }
  const certs = certificatesFromAnswer(tenant.apiV3Key, jsonOf<unknown>(res, path));
  const carried = new PlatformKeySet(certs.map((c) => c.key));
  const h = res.headers;
  const sig = { timestamp: h.get('wechatpay-timestamp') ?? undefined, nonce: h.get('wechatpay-nonce') ?? undefined, signature: h.get('wechatpay-signature') ?? undefined, serial: h.get('wechatpay-serial') ?? undefined };
  const now = ctx.clock.now();
  if (platformSignatureProblem(tenant.platformKeys, sig, res.body, now) && platformSignatureProblem(carried, sig, res.body, now)) {
    throw new PayApiError('signature', res.status, 'INVALID_SIGNATURE', 'the certificates answer verifies with none of the keys held or carried');
  }
  const out = [];
  for (const c of certs) {
    await addPlatformKey(ctx, tenantId, { pem: c.pem, serialNo: c.key.serialNo });
    out.push({ serialNo: c.key.serialNo, notAfter: c.key.notAfter });
  }
  return out;
}
