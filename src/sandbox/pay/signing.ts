// The sandbox platform's side of v3 signatures: verifying a merchant's Authorization, signing answers and notifications (with the probe and clock-skew faults).
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../app/context.ts';
import { newId } from '../../shared/ids.ts';
import { timestampWithinWindow } from '../../wechat/pay/policy.ts';
import {
  newNonce,
  parseAuthorization,
  type AuthorizationFields,
  requestMessage,
  responseMessage,
  SIGNATURE_PROBE_PREFIX,
  SIGNATURE_TYPE,
  signMessage,
  unixSeconds,
  verifyMessage,
} from '../../wechat/pay/signing.ts';
import { PayFailure } from './errors.ts';
import { signingKeyOf, type MerchantDirectory, type SandboxMerchant } from './merchants.ts';
import { faultsOf, takeFault } from './store.ts';

/** Bytes of the body the SIGN_ERROR detail quotes, as the platform's truncated_sign_message does. */
const QUOTED_BODY_CHARS = 8;

const authError = (message: string) => new PayFailure(401, 'SIGN_ERROR', message, { field: 'authorization', location: 'header' });

/** The merchant a request's Authorization names; SIGN_ERROR or MCH_NOT_EXISTS otherwise. */
export async function identifyMerchant(directory: MerchantDirectory, authorization: string | undefined): Promise<{ auth: AuthorizationFields; merchant: SandboxMerchant }> {
  const auth = parseAuthorization(authorization);
  if (!auth) throw authError('Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》');
  const merchant = await directory.find(auth.mchid);
  if (!merchant) throw new PayFailure(400, 'MCH_NOT_EXISTS', '商户号不存在');
  return { auth, merchant };
}

/**
 * Checks a merchant's request as the platform does: the merchant certificate serial, a timestamp
 * within 5 minutes, and the signature over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` with the
 * merchant's public key.
 */
export function verifyMerchantSignature(ctx: AppContext, merchant: SandboxMerchant, auth: AuthorizationFields, req: { method: string; canonicalUrl: string; body: Buffer }): void {
  // The platform answers a wrong merchant serial with SYSTEM_ERROR (§4.12), not SIGN_ERROR.
  if (auth.serial_no.toUpperCase() !== merchant.pay.merchantSerialNo.toUpperCase()) throw new PayFailure(500, 'SYSTEM_ERROR', '系统繁忙，请稍后重试');
  if (!timestampWithinWindow(auth.timestamp, ctx.clock.now())) throw authError('Authorization中的timestamp与当前时间相差超过5分钟');
  const message = requestMessage(req.method, req.canonicalUrl, auth.timestamp, auth.nonce_str, req.body);
  if (!verifyMessage(merchant.merchantPublicKey, message, auth.signature)) {
    const head = `${req.method}\n${req.canonicalUrl}\n${auth.timestamp}\n${auth.nonce_str}\n`;
    throw new PayFailure(401, 'SIGN_ERROR', '签名错误，请检查后再试', {
      detail: { issue: 'sign not match' },
      field: 'signature',
      location: 'authorization',
      sign_information: {
        method: req.method,
        sign_message_length: message.length,
        truncated_sign_message: `${head}${req.body.subarray(0, QUOTED_BODY_CHARS).toString('utf8')}\n`,
        url: req.canonicalUrl,
      },
    });
  }
}

export interface SignedHeaders {
  'Request-ID': string;
  'Wechatpay-Nonce': string;
  'Wechatpay-Signature': string;
  'Wechatpay-Timestamp': string;
  'Wechatpay-Serial': string;
  'Wechatpay-Signature-Type': string;
}

/**
 * Signs `TIMESTAMP\nNONCE\nBODY\n` with the tenant's current platform key. The probe fault replaces
 * the signature with a `WECHATPAY/SIGNTEST/` one; the skew fault shifts the timestamp.
 */
export async function platformSignature(ctx: AppContext, merchant: SandboxMerchant, body: string): Promise<SignedHeaders> {
  const key = await signingKeyOf(ctx, merchant);
  if (!key) throw new PayFailure(500, 'SYSTEM_ERROR', '系统繁忙，请稍后重试');
  const faults = await faultsOf(ctx.db, merchant.tenantId);
  const timestamp = unixSeconds(new Date(ctx.clock.now().getTime() + (faults?.timestamp_skew_s ?? 0) * 1000));
  const nonce = newNonce();
  const probe = (faults?.probe_remaining ?? 0) > 0 && (await takeFault(ctx.db, merchant.tenantId, 'probe_remaining'));
  const signature = probe ? `${SIGNATURE_PROBE_PREFIX}${randomBytes(180).toString('base64')}` : signMessage(key.key, responseMessage(timestamp, nonce, body));
  return {
    'Request-ID': newId('req'),
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Serial': key.serialNo,
    'Wechatpay-Signature-Type': SIGNATURE_TYPE,
  };
}
