// The Official Account server's public face: the `oaServer` plugin factory, its handler and message types, and reply helpers.
import type { ModulePlugin } from '../../app/server.ts';
import { defaultOnMessage } from './default-handler.ts';
import { OA_REPLY_DEADLINE_MS } from './handle.ts';
import { registerOaJobs } from './jobs.ts';
import { registerOaRoutes } from './routes.ts';
import type { OaMessageHandler } from './types.ts';

export interface OaServerOptions {
  /** Answers pushes; default: help for 帮助 / help / subscribe, a hint for other text, menu clicks named. */
  onMessage?: OaMessageHandler;
  /** The handler's passive-reply window in ms (default OA_REPLY_DEADLINE_MS; below WeChat's 5 s). */
  replyDeadlineMs?: number;
}

/**
 * `GET, POST /wechat/oa/{tenantId}` and the OA jobs (late replies as customer-service messages,
 * purging de-duplication claims). Business modules pass their handler at composition.
 */
export function oaServer(opts: OaServerOptions = {}): ModulePlugin {
  const replyDeadlineMs = opts.replyDeadlineMs ?? OA_REPLY_DEADLINE_MS;
  if (!(replyDeadlineMs > 0 && replyDeadlineMs < 5_000)) throw new Error('replyDeadlineMs must be below WeChat’s 5-second timeout');
  const onMessage = opts.onMessage ?? defaultOnMessage;
  return async (app, ctx) => {
    registerOaJobs(ctx);
    await registerOaRoutes(app, ctx, { onMessage, replyDeadlineMs });
  };
}

export type * from './types.ts';
export { defaultOnMessage, defaultReply, HELP_TEXT, NOT_UNDERSTOOD_TEXT, HELP_MENU_KEY } from './default-handler.ts';
export { OA_REPLY_DEADLINE_MS, type PushOutcome } from './handle.ts';
export { OA_TIMESTAMP_WINDOW_MS } from './verify.ts';
export { MAX_TEXT_CHARS } from './inbound.ts';
export { OA_DEDUP_RETENTION_MS, PURGE_TOPIC } from './jobs.ts';
export { CUSTOM_REPLY_TOPIC } from './store.ts';
export { OA_CREDENTIALS_TTL_MS } from './tenant-cache.ts';
export { OA_MAX_BODY_BYTES } from './routes.ts';
export { buildPassiveReply, buildEnvelope, replyAsText, MAX_NEWS_ARTICLES, SUCCESS_BODY, type OaFormat } from './wire.ts';
