// A tenant's WeChat app credentials: schema (checked before encryption) and the TS types other modules use.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { AppError, type FieldError } from '../app/errors.ts';

const AppId = Type.String({ pattern: '^wx[0-9a-f]{16}$' });
/** EncodingAESKey: 43 base64 characters (32 bytes once "=" is appended), WECHAT.md §1. */
const EncodingAESKey = Type.String({ pattern: '^[A-Za-z0-9+/]{43}$' });
/** URL-verification token: WeChat accepts 3–32 letters and digits. */
const CallbackToken = Type.String({ pattern: '^[A-Za-z0-9]{3,32}$' });
const Pem = (label: string) => Type.String({ pattern: `^-----BEGIN ${label}-----` , maxLength: 8192 });

export const OaCredentialsSchema = Type.Object(
  {
    appId: AppId,
    appSecret: Type.String({ pattern: '^[A-Za-z0-9]{16,64}$' }),
    token: CallbackToken,
    encodingAESKey: EncodingAESKey,
    mode: Type.Union([Type.Literal('plain'), Type.Literal('compatible'), Type.Literal('safe')]),
    /** The account's original id (gh_…), the ToUserName of its messages. */
    originalId: Type.Optional(Type.String({ pattern: '^gh_[0-9a-f]{12}$' })),
  },
  { additionalProperties: false },
);

export const MiniProgramCredentialsSchema = Type.Object(
  { appId: AppId, appSecret: Type.String({ pattern: '^[A-Za-z0-9]{16,64}$' }) },
  { additionalProperties: false },
);

export const PayCredentialsSchema = Type.Object(
  {
    mchId: Type.String({ pattern: '^[0-9]{8,12}$' }),
    /** 32 ASCII characters: the AES-256-GCM key of notifications (WECHAT.md §4). */
    apiV3Key: Type.String({ pattern: '^[A-Za-z0-9]{32}$' }),
    merchantSerialNo: Type.String({ pattern: '^[0-9A-Fa-f]{8,64}$' }),
    merchantPrivateKeyPem: Pem('PRIVATE KEY'),
    /** A platform certificate serial, or a platform public key id `PUB_KEY_ID_…`. */
    platformSerialNo: Type.String({ pattern: '^(PUB_KEY_ID_[0-9]{10,40}|[0-9A-Fa-f]{8,64})$' }),
    platformPublicKeyPem: Pem('PUBLIC KEY'),
    /** Sandbox only: the key the local platform signs with. A real tenant never has it. */
    platformPrivateKeyPem: Type.Optional(Pem('PRIVATE KEY')),
  },
  { additionalProperties: false },
);

export const WecomCredentialsSchema = Type.Object(
  {
    // Corp ids start ww (newer corps) or wx (older ones, and WeCom's official sample).
    corpId: Type.String({ pattern: '^w[wx][0-9a-f]{16}$' }),
    token: CallbackToken,
    encodingAESKey: EncodingAESKey,
    secret: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }),
  },
  { additionalProperties: false },
);

export const TenantCredentialsSchema = Type.Object(
  {
    oa: Type.Optional(OaCredentialsSchema),
    miniProgram: Type.Optional(MiniProgramCredentialsSchema),
    pay: Type.Optional(PayCredentialsSchema),
    wecom: Type.Optional(WecomCredentialsSchema),
  },
  { additionalProperties: false },
);

export type OaCredentials = Static<typeof OaCredentialsSchema>;
export type MiniProgramCredentials = Static<typeof MiniProgramCredentialsSchema>;
export type PayCredentials = Static<typeof PayCredentialsSchema>;
export type WecomCredentials = Static<typeof WecomCredentialsSchema>;
export type TenantCredentials = Static<typeof TenantCredentialsSchema>;

/**
 * Throws `validation_failed` naming each malformed field. Messages never quote the value: these
 * are secrets, and problem details and logs must not carry them.
 */
export function assertCredentials(value: unknown): TenantCredentials {
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const e of Value.Errors(TenantCredentialsSchema, value)) {
    const field = `credentials${e.instancePath.replaceAll('/', '.')}`;
    if (seen.has(field) || e.keyword === 'additionalProperties') continue;
    seen.add(field);
    errors.push({ field, message: e.keyword === 'boolean' ? 'is not a known credential field' : e.message });
  }
  if (errors.length > 0) throw AppError.validation(errors);
  if (value && typeof value === 'object' && 'oa' in value && 'miniProgram' in value) {
    const v = value as TenantCredentials;
    if (v.oa && v.miniProgram && v.oa.appId === v.miniProgram.appId) {
      throw AppError.validation([{ field: 'credentials.miniProgram.appId', message: 'must differ from the Official Account appId' }]);
    }
  }
  return value as TenantCredentials;
}
