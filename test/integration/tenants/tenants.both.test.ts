// Tenants on the database: creation, policy updates with validation, credentials encrypted at rest, appid look-up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openTestDb, type TestDb } from '../../helpers/db.ts';
import { inTx } from '../../../src/db/tx.ts';
import { FieldCrypto } from '../../../src/shared/crypto.ts';
import { AppError } from '../../../src/app/errors.ts';
import {
  createTenant,
  findTenantByAppId,
  getCredentials,
  getTenant,
  listTenants,
  presetPolicy,
  resetProfile,
  setCredentials,
  updatePolicy,
  type TenantCredentials,
} from '../../../src/tenants/index.ts';

const crypto = new FieldCrypto({ keys: { v1: Buffer.alloc(16, 7) }, current: 'v1', blindIndexKey: Buffer.alloc(32, 9) });
const NOW = new Date('2026-01-05T02:00:00Z');

const CREDS: TenantCredentials = {
  oa: {
    appId: 'wx00000000000000a1',
    appSecret: 'oasecretoasecretoasecretoasecret',
    token: 'oatokenvalue',
    encodingAESKey: 'OAencodingAESKeyOAencodingAESKeyOAencoding1',
    mode: 'safe',
  },
  miniProgram: { appId: 'wx00000000000000b2', appSecret: 'mpsecretmpsecretmpsecretmpsecret' },
  pay: {
    mchId: '1900000109',
    apiV3Key: 'apiv3keyapiv3keyapiv3keyapiv3key',
    merchantSerialNo: '3775B6A45ACD588826D15E583A95F5DD',
    merchantPrivateKeyPem: '-----BEGIN PRIVATE KEY-----\nMERCHANTPRIVATEKEYBODY\n-----END PRIVATE KEY-----\n',
    platformSerialNo: 'PUB_KEY_ID_0114232134912410000000000000',
    platformPublicKeyPem: '-----BEGIN PUBLIC KEY-----\nPLATFORMPUBLICKEYBODY\n-----END PUBLIC KEY-----\n',
  },
  wecom: { corpId: 'ww00000000000000c3', token: 'wecomtoken', encodingAESKey: 'WEencodingAESKeyWEencodingAESKeyWEencoding1', secret: 'wecomsecretwecomsecret' },
};
const SECRETS = [
  'oasecretoasecretoasecretoasecret',
  'oatokenvalue',
  'OAencodingAESKeyOAencodingAESKeyOAencoding1',
  'mpsecretmpsecretmpsecretmpsecret',
  'apiv3keyapiv3keyapiv3keyapiv3key',
  'MERCHANTPRIVATEKEYBODY',
  'wecomsecretwecomsecret',
  'WEencodingAESKeyWEencodingAESKeyWEencoding1',
];

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
  await inTx(db.db, (tx) => createTenant(tx, crypto, { id: 'bank-a', name: 'A 银行', kind: 'bank', preset: 'daily-10', credentials: CREDS, now: NOW }));
});
afterAll(async () => {
  await db?.close();
});

async function expectAppError(p: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(code);
    return err as AppError;
  }
  throw new Error(`expected ${code}`);
}

describe('tenants', () => {
  it('creates a tenant whose policy is the resolved preset with its overrides', async () => {
    const t = await inTx(db.db, (tx) =>
      createTenant(tx, crypto, {
        id: 'card-op',
        name: '市民卡公司',
        kind: 'citizen_card',
        preset: 'citizen-card',
        policy: { topup: { methods: { credit_card: { enabled: false } } } },
        now: NOW,
      }),
    );
    expect(t).toMatchObject({ id: 'card-op', kind: 'citizen_card', preset: 'citizen-card', hasCredentials: false, oaAppId: null });
    expect(t.policy.topup.methods.credit_card.enabled).toBe(false);
    expect(t.policy.topup.methods.wechat_balance).toEqual(presetPolicy('citizen-card').topup.methods.wechat_balance);
    const back = await getTenant(db.db, 'card-op');
    expect(back).toEqual(t);
    expect(back!.createdAt.getTime()).toBe(NOW.getTime());
  });

  it('lists tenants in id order', async () => {
    const ids = (await listTenants(db.db)).map((t) => t.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toContain('bank-a');
  });

  it('refuses a duplicate id with conflict and a malformed id with validation_failed', async () => {
    await expectAppError(inTx(db.db, (tx) => createTenant(tx, crypto, { id: 'bank-a', name: 'x', kind: 'bank', preset: 'daily-10', now: NOW })), 'conflict');
    const err = await expectAppError(
      inTx(db.db, (tx) => createTenant(tx, crypto, { id: 'Bank_A', name: 'x', kind: 'bank', preset: 'nope' as never, now: NOW })),
      'validation_failed',
    );
    expect((err.extra.errors as { field: string }[]).map((e) => e.field).sort()).toEqual(['id', 'preset']);
  });

  it('never stores a credential in clear: the raw row holds only the envelope and the app ids', async () => {
    const raw = await sql<Record<string, unknown>>`select * from tenants where id = 'bank-a'`.execute(db.db);
    const text = JSON.stringify(raw.rows[0]);
    for (const s of SECRETS) expect(text).not.toContain(s);
    expect(String(raw.rows[0]!.credentials_enc)).toMatch(/^sm4:v1:/);
    expect(raw.rows[0]!.oa_app_id).toBe('wx00000000000000a1');
    expect(raw.rows[0]!.mini_program_app_id).toBe('wx00000000000000b2');
  });

  it('decrypts the credentials for the module that needs them', async () => {
    expect(await getCredentials(db.db, crypto, 'bank-a')).toEqual(CREDS);
    expect(await getCredentials(db.db, crypto, 'card-op')).toBeUndefined();
    expect(await getCredentials(db.db, crypto, 'nobody')).toBeUndefined();
  });

  it('finds the tenant and the app by an incoming appid', async () => {
    const oa = await findTenantByAppId(db.db, 'wx00000000000000a1');
    expect(oa?.tenant.id).toBe('bank-a');
    expect(oa?.app).toBe('oa');
    expect((await findTenantByAppId(db.db, 'wx00000000000000b2'))?.app).toBe('miniProgram');
    expect(await findTenantByAppId(db.db, 'wx0000000000000000')).toBeUndefined();
  });

  it('refuses credentials whose appid another tenant already uses', async () => {
    await expectAppError(
      inTx(db.db, (tx) => setCredentials(tx, crypto, 'card-op', { miniProgram: { appId: 'wx00000000000000a1', appSecret: 'x'.repeat(32) } }, NOW)),
      'conflict',
    );
  });

  it('replaces credentials and moves the appid index with them', async () => {
    const later = new Date(NOW.getTime() + 60_000);
    const creds: TenantCredentials = { miniProgram: { appId: 'wx00000000000000d4', appSecret: 'y'.repeat(32) } };
    const t = await inTx(db.db, (tx) => setCredentials(tx, crypto, 'card-op', creds, later));
    expect(t).toMatchObject({ hasCredentials: true, miniProgramAppId: 'wx00000000000000d4', oaAppId: null });
    expect(t.updatedAt.getTime()).toBe(later.getTime());
    expect(await getCredentials(db.db, crypto, 'card-op')).toEqual(creds);
    expect((await findTenantByAppId(db.db, 'wx00000000000000d4'))?.tenant.id).toBe('card-op');
  });

  it('updates a policy by patch and keeps the other fields', async () => {
    const t = await inTx(db.db, (tx) => updatePolicy(tx, 'bank-a', { quotas: { boundPerUserPerDay: 12 } }, NOW));
    expect(t.policy.quotas).toEqual({ boundPerUserPerDay: 12, noBindPerCardPerDay: 10, noBindPerWechatAccountPerDay: 10 });
    expect(t.policy.balance.freshness).toBe(30);
    expect((await getTenant(db.db, 'bank-a'))!.policy.quotas.boundPerUserPerDay).toBe(12);
  });

  it('refuses a bad policy value with validation_failed naming the field, and stores nothing', async () => {
    const err = await expectAppError(inTx(db.db, (tx) => updatePolicy(tx, 'bank-a', { balance: { freshness: 0 } }, NOW)), 'validation_failed');
    expect(err.extra.errors).toEqual([{ field: 'policy.balance.freshness', message: expect.any(String) }]);
    expect((await getTenant(db.db, 'bank-a'))!.policy.balance.freshness).toBe(30);
  });

  it('answers not_found for the policy of an unknown tenant', async () => {
    await expectAppError(inTx(db.db, (tx) => updatePolicy(tx, 'ghost', {}, NOW)), 'not_found');
  });

  it('resets a profile to another preset', async () => {
    const t = await inTx(db.db, (tx) => resetProfile(tx, 'bank-a', { preset: 'agricultural', name: 'A 农商银行', now: NOW }));
    expect(t).toMatchObject({ preset: 'agricultural', name: 'A 农商银行' });
    expect(t.policy).toEqual(presetPolicy('agricultural'));
  });

  it('completes a stored policy that predates a field with the preset value', async () => {
    const stored = presetPolicy('daily-20') as Record<string, unknown>;
    delete stored.cancellation;
    await sql`update tenants set preset = 'daily-20', policy = ${JSON.stringify(stored)}::jsonb where id = 'card-op'`.execute(db.db);
    expect((await getTenant(db.db, 'card-op'))!.policy.cancellation).toEqual({ accessCutoffWorkingDays: 7 });
  });
});
