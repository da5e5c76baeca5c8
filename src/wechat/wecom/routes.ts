// HTTP face of the WeCom callback: `GET, POST /wechat/wecom/{tenantId}` (API.md), with the business handlers injected.
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../app/context.ts';
import { AppError } from '../../app/errors.ts';
import type { ModulePlugin } from '../../app/server.ts';
import type { Tx } from '../../db/tx.ts';
import { TENANT_ID_PATTERN } from '../../tenants/index.ts';
import { MAX_XML_BYTES } from '../xml.ts';
import { receiveCallback, verifyCallbackUrl, type CallbackHandlers } from './callback.ts';
import type { AddExternalContactEvent, WecomEvent } from './events.ts';
import { PRUNE_EVENTS_TOPIC, pruneEventsJob } from './jobs.ts';

export interface WecomCallbackOptions {
  /**
   * A customer added a member. Runs once per event, in the transaction that records it; throw to
   * make WeCom retry. Default: nothing beyond the record (see `recentWecomEvents`).
   */
  onAddExternalContact?: (ctx: AppContext, tx: Tx, event: AddExternalContactEvent) => Promise<void>;
  /** Every other message or event, with the same guarantees. Default: the record only. */
  onEvent?: (ctx: AppContext, tx: Tx, event: WecomEvent) => Promise<void>;
}

const recordOnly = async (): Promise<void> => {};

const Params = Type.Object({ tenantId: Type.String({ pattern: TENANT_ID_PATTERN.source, maxLength: 40 }) });
const SignedQuery = {
  msg_signature: Type.String({ pattern: '^[0-9A-Fa-f]{40}$', description: 'sha1 over the sorted token, timestamp, nonce and encrypted text' }),
  timestamp: Type.String({ pattern: '^[0-9]{1,12}$', description: 'unix seconds; refused when more than 5 minutes from our clock' }),
  nonce: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
};
const VerifyQuery = Type.Object({ ...SignedQuery, echostr: Type.String({ minLength: 1, maxLength: 4096, description: 'encrypted, base64' }) });
const EventQuery = Type.Object(SignedQuery);
const TEXT = 'text/plain; charset=utf-8';

/**
 * The WeCom callback routes. WeCom waits 5 s and retries three times: the answer is `success` as soon
 * as the event is recorded and its handler has run; slow work belongs in a job the handler enqueues.
 */
export function wecomCallbacks(opts: WecomCallbackOptions = {}): ModulePlugin {
  const handlers: CallbackHandlers = {
    onAddExternalContact: opts.onAddExternalContact ?? recordOnly,
    onEvent: opts.onEvent ?? recordOnly,
  };
  return async (app, ctx) => {
    ctx.jobs.register(PRUNE_EVENTS_TOPIC, pruneEventsJob, { maxAttempts: 3 });
    // Encapsulated: the raw-body parser below applies to these routes only.
    await app.register(async (plain) => {
      const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
      scope.removeAllContentTypeParsers();
      // The raw bytes, whatever the content type: the XML parser checks UTF-8 and size itself.
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_XML_BYTES }, (_req, body, done) => done(null, body));

      scope.get(
        '/wechat/wecom/:tenantId',
        {
          schema: {
            tags: ['wechat'],
            summary: 'WeCom callback URL verification: answers the decrypted echostr',
            params: Params,
            querystring: VerifyQuery,
          },
        },
        async (request, reply) => {
          const echo = await verifyCallbackUrl(ctx, request.params.tenantId, request.query);
          return reply.type(TEXT).send(echo);
        },
      );

      scope.post(
        '/wechat/wecom/:tenantId',
        {
          bodyLimit: MAX_XML_BYTES,
          schema: {
            tags: ['wechat'],
            summary: 'WeCom callback: encrypted external-contact events and messages; answers success',
            params: Params,
            querystring: EventQuery,
          },
        },
        async (request, reply) => {
          const body = request.body;
          if (!Buffer.isBuffer(body) || body.length === 0) throw AppError.validation([{ field: 'body', message: 'is required' }]);
          await receiveCallback(ctx, request.params.tenantId, request.query, body, handlers);
          return reply.type(TEXT).send('success');
        },
      );
    });
  };
}
