// HTTP face of the OA server protocol: GET /wechat/oa/{tenantId} (URL verification) and POST (messages and events).
import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import { Counter } from 'prom-client';
import type { App } from '../../app/server.ts';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import { TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { ClaimBatcher } from './claims.ts';
import { handlePush, type HandleOptions, type PushOutcome } from './handle.ts';
import { purgeScheduler } from './jobs.ts';
import { OaTenantCache, type OaTenant } from './tenant-cache.ts';
import { assertUrlSignature, verifyPush, type OaQuery } from './verify.ts';
import { buildEnvelope, SUCCESS_BODY } from './wire.ts';

/** A push is a few KB; its encrypted form is the base64 of that plus the envelope. */
export const OA_MAX_BODY_BYTES = 128 * 1024;
/** Reply nonces: 10 random digits, as WeChat's own look. */
const NONCE_DIGITS = 10;

const Hex40 = Type.String({ pattern: '^[0-9a-fA-F]{40}$' });
const Params = Type.Object({ tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, minLength: 2, maxLength: 40 }) });
const SignedQuery = {
  signature: Hex40,
  timestamp: Type.String({ pattern: '^[0-9]{1,12}$' }),
  nonce: Type.String({ minLength: 1, maxLength: 64 }),
};
const VerifyQuery = Type.Object({
  ...SignedQuery,
  // WeChat sends a numeric string; it is echoed back, so nothing else is accepted.
  echostr: Type.String({ pattern: '^[A-Za-z0-9_=+/-]{1,256}$' }),
});
const PushQuery = Type.Object({
  ...SignedQuery,
  openid: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  encrypt_type: Type.Optional(Type.Union([Type.Literal('aes'), Type.Literal('raw')])),
  msg_signature: Type.Optional(Hex40),
});

/** Reply encryption needs 16 random bytes per reply: taken from one CSPRNG draw per 256 replies. */
const RANDOM_POOL_BYTES = 4_096;

function randomPrefixes(): () => Buffer {
  let pool = Buffer.alloc(0);
  let at = 0;
  return () => {
    if (at + 16 > pool.length) {
      pool = randomBytes(RANDOM_POOL_BYTES);
      at = 0;
    }
    at += 16;
    return pool.subarray(at - 16, at);
  };
}

function replyNonce(): string {
  let s = '';
  for (let i = 0; i < NONCE_DIGITS; i++) s += String(Math.floor(Math.random() * 10));
  return s;
}

export async function registerOaRoutes(app: App, ctx: AppContext, handler: Omit<HandleOptions, 'claims'>): Promise<void> {
  const tenants = new OaTenantCache(ctx);
  const opts: HandleOptions = { ...handler, claims: new ClaimBatcher(ctx.db) };
  const schedulePurge = purgeScheduler(ctx);
  const nextRandom = randomPrefixes();
  const pushes = new Counter({
    name: 'wecard_oa_pushes_total',
    help: 'Official Account pushes by outcome',
    labelNames: ['outcome'] as const,
    registers: [ctx.metrics],
  });

  async function tenantOf(tenantId: string): Promise<OaTenant> {
    const tenant = await tenants.get(tenantId);
    if (!tenant) throw new AppError('not_found', `no Official Account is configured for tenant ${tenantId}`);
    return tenant;
  }

  await app.register(async (scope) => {
    // Raw bytes whatever the content type (WeChat sends text/xml; JSON-format pushes send JSON):
    // signatures are checked and the body parsed here, with the hardened parsers, never by a generic one.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: OA_MAX_BODY_BYTES }, (_req, body, done) => done(null, body));

    scope.get(
      '/wechat/oa/:tenantId',
      {
        schema: {
          tags: ['wechat'],
          summary: 'Official Account URL verification: echoes echostr when the signature matches',
          params: Params,
          querystring: VerifyQuery,
          response: { 200: Type.String() },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.params as { tenantId: string };
        const q = req.query as { signature: string; timestamp: string; nonce: string; echostr: string };
        assertUrlSignature(await tenantOf(tenantId), q);
        return reply.type('text/plain; charset=utf-8').send(q.echostr);
      },
    );

    scope.post(
      '/wechat/oa/:tenantId',
      {
        bodyLimit: OA_MAX_BODY_BYTES,
        schema: {
          tags: ['wechat'],
          summary: 'Official Account messages and events (plain, compatible or safe mode); answers a passive reply or `success`',
          params: Params,
          querystring: PushQuery,
        },
      },
      async (req, reply) => {
        const receivedAtMs = Date.now();
        const { tenantId } = req.params as { tenantId: string };
        const tenant = await tenantOf(tenantId);
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let outcome: PushOutcome | 'refused' = 'refused';
        try {
          const nowMs = ctx.clock.now().getTime();
          const push = verifyPush(tenant, req.query as OaQuery, body, nowMs);
          schedulePurge(nowMs);
          const answer = await handlePush(ctx, opts, tenant, push, receivedAtMs);
          outcome = answer.outcome;
          if (answer.plaintext === undefined) return reply.type('text/plain; charset=utf-8').send(SUCCESS_BODY);
          const contentType = push.format === 'json' ? 'application/json; charset=utf-8' : 'text/xml; charset=utf-8';
          if (!push.encrypted) return reply.type(contentType).send(answer.plaintext);
          const timestamp = String(Math.floor(nowMs / 1000));
          return reply.type(contentType).send(buildEnvelope(tenant.crypto, answer.plaintext, timestamp, replyNonce(), push.format, nextRandom()));
        } finally {
          pushes.inc({ outcome });
        }
      },
    );
  });
}
