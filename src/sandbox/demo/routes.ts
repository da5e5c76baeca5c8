// Sandbox HTTP routes for the demo: the demo sheet and a demo tenant's sandbox credentials (API.md).
import { Type } from 'typebox';
import { createPublicKey } from 'node:crypto';
import type { ModulePlugin } from '../../app/server.ts';
import { AppError } from '../../app/errors.ts';
import { getCredentials, PRESET_IDS, TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { CARD_STATUSES } from '../../core/index.ts';
import { ID_TYPES } from '../../shared/id-document.ts';
import { demoSummary } from './summary.ts';

const Str = Type.String();
const enumOf = <const T extends string[]>(values: readonly [...T]) => Type.Enum<T>(values);

const DemoAnswer = Type.Object({
  tenants: Type.Array(
    Type.Object({
      id: Str,
      name: Str,
      kind: enumOf(['bank', 'citizen_card', 'social_security']),
      preset: Type.String({ description: `one of ${PRESET_IDS.join(', ')} (more may come)` }),
    }),
  ),
  cardholders: Type.Array(
    Type.Object({
      tenantId: Str,
      name: Str,
      idType: enumOf([...ID_TYPES]),
      idNumber: Str,
      phone: Str,
      paymentPassword: Str,
      cards: Type.Array(
        Type.Object({
          number: Str,
          kind: enumOf(['debit', 'credit', 'citizen']),
          currency: Str,
          status: enumOf([...CARD_STATUSES]),
        }),
      ),
    }),
  ),
});

const CredentialsAnswer = Type.Object({
  oa: Type.Object({
    appId: Str,
    appSecret: Str,
    token: Str,
    encodingAESKey: Str,
    mode: enumOf(['plain', 'compatible', 'safe']),
    originalId: Type.Optional(Str),
  }),
  miniProgram: Type.Object({ appId: Str, appSecret: Str }),
  pay: Type.Object({
    mchId: Str,
    apiV3Key: Str,
    merchantSerialNo: Str,
    /** What the platform checks merchant request signatures with (derived from the merchant key). */
    merchantPublicKeyPem: Str,
    platformSerialNo: Str,
    platformPublicKeyPem: Str,
    platformPrivateKeyPem: Str,
  }),
  wecom: Type.Object({ corpId: Str, token: Str, encodingAESKey: Str, secret: Str }),
});

/**
 * `GET /sandbox/api/demo` and `GET /sandbox/api/tenants/{tenantId}/credentials`. Mounted only
 * with the sandbox on (the lead wires it in src/app/modules.ts); refuses to register otherwise.
 */
export const demoRoutes: ModulePlugin = (app, ctx) => {
  if (!ctx.config.sandbox) return;

  app.get(
    '/sandbox/api/demo',
    {
      schema: {
        tags: ['sandbox'],
        summary: 'The demo tenants and cardholders, with their fictitious card and ID numbers and payment passwords',
        response: { 200: DemoAnswer },
      },
    },
    async () => demoSummary(ctx),
  );

  app.get(
    '/sandbox/api/tenants/:tenantId/credentials',
    {
      schema: {
        tags: ['sandbox'],
        summary: "A demo tenant's sandbox credentials (OA, mini-program, Pay v3 keys, WeCom)",
        params: Type.Object({ tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }) }),
        response: { 200: CredentialsAnswer },
      },
    },
    async (req) => {
      const { tenantId } = req.params as { tenantId: string };
      const c = await getCredentials(ctx.db, ctx.crypto, tenantId);
      // Only tenants with a full sandbox set: a real tenant has no platform private key.
      if (!c?.oa || !c.miniProgram || !c.wecom || !c.pay?.platformPrivateKeyPem) {
        throw new AppError('not_found', `tenant ${tenantId} has no sandbox credentials`);
      }
      return {
        oa: c.oa,
        miniProgram: c.miniProgram,
        pay: {
          mchId: c.pay.mchId,
          apiV3Key: c.pay.apiV3Key,
          merchantSerialNo: c.pay.merchantSerialNo,
          merchantPublicKeyPem: createPublicKey(c.pay.merchantPrivateKeyPem).export({ type: 'spki', format: 'pem' }).toString(),
          platformSerialNo: c.pay.platformSerialNo,
          platformPublicKeyPem: c.pay.platformPublicKeyPem,
          platformPrivateKeyPem: c.pay.platformPrivateKeyPem,
        },
        wecom: c.wecom,
      };
    },
  );
};
