// Helpers for the Pay tests: a sandbox tenant, and notifications built by an independent library (wechatpay-axios-plugin) as WeChat would send them.
import { randomUUID } from 'node:crypto';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import type { AppContext } from '../../../../src/app/context.ts';
import { inTx } from '../../../../src/db/tx.ts';
import { generateSandboxCredentials } from '../../../../src/sandbox/demo/credentials.ts';
import { randomToken } from '../../../../src/shared/ids.ts';
import { createTenant, type PayCredentials, type TenantCredentials } from '../../../../src/tenants/index.ts';
import { registerSensitive } from '../../../helpers/secrets.ts';

export interface PayTestTenant {
  tenantId: string;
  credentials: TenantCredentials;
  pay: PayCredentials;
  oaAppId: string;
  miniAppId: string;
}

/** One line of the base64 body of a PEM: enough for the leak scan to recognise the key in a log. */
const pemLine = (pem: string) => pem.split('\n')[3] ?? '';

/** A tenant with a full set of generated sandbox credentials; its secrets are registered for the leak scan. */
export async function payTenant(ctx: AppContext, prefix = 'pay'): Promise<PayTestTenant> {
  const tenantId = `${prefix}-${randomToken(6)}`;
  const credentials = await generateSandboxCredentials('safe');
  const pay = credentials.pay!;
  registerSensitive(pay.apiV3Key, pemLine(pay.merchantPrivateKeyPem), pemLine(pay.platformPrivateKeyPem!));
  await inTx(ctx.db, (tx) => createTenant(tx, ctx.crypto, { id: tenantId, name: '沙箱支付银行', kind: 'citizen_card', preset: 'citizen-card', credentials, now: ctx.clock.now() }));
  return { tenantId, credentials, pay, oaAppId: credentials.oa!.appId, miniAppId: credentials.miniProgram!.appId };
}

/** A simulated payer openid, registered as personal data. */
export function payerOpenid(): string {
  const openid = `oPay${randomToken(12)}`.slice(0, 28);
  registerSensitive(openid);
  return openid;
}

export function transactionResource(t: PayTestTenant, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    appid: t.miniAppId,
    mchid: t.pay.mchId,
    out_trade_no: `T${randomToken(10)}`,
    transaction_id: `4200${Date.now()}${Math.floor(Math.random() * 1e6)}`.slice(0, 28),
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    attach: '',
    success_time: '2026-01-05T10:00:00+08:00',
    payer: { openid: payerOpenid() },
    amount: { total: 1000, payer_total: 1000, currency: 'CNY', payer_currency: 'CNY' },
    ...over,
  };
}

export function refundResource(t: PayTestTenant, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mchid: t.pay.mchId,
    out_trade_no: `T${randomToken(10)}`,
    transaction_id: '4200000000000000000000000001',
    out_refund_no: `R${randomToken(10)}`,
    refund_id: '50000000000000000000000000001',
    refund_status: 'SUCCESS',
    success_time: '2026-01-05T10:00:00+08:00',
    user_received_account: '支付用户零钱',
    amount: { total: 1000, refund: 300, payer_total: 1000, payer_refund: 300 },
    ...over,
  };
}

export interface BuiltNotification {
  headers: Record<string, string>;
  body: string;
  id: string;
}

/**
 * A notification as the platform sends it, built and signed with wechatpay-axios-plugin (not our
 * code): AES-256-GCM with the APIv3 key, RSA-SHA256 over `timestamp\nnonce\nbody\n`.
 */
export function libraryNotification(
  t: PayTestTenant,
  opts: {
    resource: Record<string, unknown>;
    now: Date;
    kind?: 'transaction' | 'refund';
    eventType?: string;
    id?: string;
    timestampOffsetS?: number;
    /** Sign with another private key (a forger, or a rotated platform key). */
    privateKeyPem?: string;
    serial?: string;
    apiV3Key?: string;
  },
): BuiltNotification {
  const kind = opts.kind ?? 'transaction';
  const id = opts.id ?? randomUUID();
  const nonce = Formatter.nonce(12);
  const envelope = {
    id,
    create_time: '2026-01-05T10:00:01+08:00',
    resource_type: 'encrypt-resource',
    event_type: opts.eventType ?? (kind === 'transaction' ? 'TRANSACTION.SUCCESS' : 'REFUND.SUCCESS'),
    summary: kind === 'transaction' ? '支付成功' : '退款成功',
    resource: {
      original_type: kind,
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: Aes.AesGcm.encrypt(JSON.stringify(opts.resource), opts.apiV3Key ?? t.pay.apiV3Key, nonce, kind),
      associated_data: kind,
      nonce,
    },
  };
  const body = JSON.stringify(envelope);
  const timestamp = String(Math.floor(opts.now.getTime() / 1000) + (opts.timestampOffsetS ?? 0));
  const headerNonce = Formatter.nonce();
  const signature = Rsa.sign(Formatter.response(timestamp, headerNonce, body), Rsa.from(opts.privateKeyPem ?? t.pay.platformPrivateKeyPem!, Rsa.KEY_TYPE_PRIVATE));
  return {
    id,
    body,
    headers: {
      'content-type': 'application/json',
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': headerNonce,
      'wechatpay-signature': signature,
      'wechatpay-serial': opts.serial ?? t.pay.platformSerialNo,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    },
  };
}

/** Any body text signed by the platform key with wechatpay-axios-plugin, as a buggy platform would send it. */
export function librarySigned(t: PayTestTenant, body: string, now: Date): { headers: Record<string, string>; body: string } {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = Formatter.nonce();
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': Rsa.sign(Formatter.response(timestamp, nonce, body), Rsa.from(t.pay.platformPrivateKeyPem!, Rsa.KEY_TYPE_PRIVATE)),
      'wechatpay-serial': t.pay.platformSerialNo,
    },
  };
}
