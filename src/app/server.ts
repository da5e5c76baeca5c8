// Assembles the HTTP server: request ids, logging, problem+json, health, metrics, OpenAPI, then the modules.
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Histogram, collectDefaultMetrics } from 'prom-client';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { AppContext } from './context.ts';
import { registerProblemHandling } from './problem-plugin.ts';
import { AppError } from './errors.ts';
import { randomToken } from '../shared/ids.ts';

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

/** A module's HTTP face: a Fastify plugin that gets the context. */
export type ModulePlugin = (app: App, ctx: AppContext) => Promise<void> | void;

/** Largest JSON body any route accepts unless it sets its own limit. */
export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024;
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,64}$/;

/**
 * Request ids need to be unique, not secret: a random per-process prefix and a counter, which
 * costs nothing per request (a random id per request was a measurable share of a balance read).
 */
const REQUEST_ID_PREFIX = `req_${randomToken(8)}`;
let requestCounter = 0;
function nextRequestId(): string {
  requestCounter = (requestCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${REQUEST_ID_PREFIX}${requestCounter.toString(36).padStart(6, '0')}`;
}

export interface BuildOptions {
  modules?: ModulePlugin[];
  /** Extra Fastify options (tests pass `logger` streams through ctx.log instead). */
  fastify?: Partial<FastifyServerOptions>;
}

export interface ServerState {
  shuttingDown: boolean;
}

export async function buildServer(ctx: AppContext, opts: BuildOptions = {}): Promise<App & { state: ServerState }> {
  const app = Fastify({
    loggerInstance: ctx.log,
    bodyLimit: DEFAULT_BODY_LIMIT_BYTES,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : nextRequestId();
    },
    // One access line per request (onResponse below) instead of Fastify's two; errors are logged
    // by the problem handler.
    logController: new LogController({ requestIdLogLabel: 'reqId', disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    routerOptions: { ignoreTrailingSlash: true },
    trustProxy: true,
    ...opts.fastify,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  const state: ServerState = { shuttingDown: false };
  app.decorate('state', state);

  // Callback-style hooks: an async hook costs a promise per request on the hottest path.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  registerProblemHandling(app);
  refuseNulInJson(app);

  collectDefaultMetrics({ register: ctx.metrics, prefix: 'wecard_' });
  const httpDuration = new Histogram({
    name: 'wecard_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [ctx.metrics],
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    // The path only: query strings may carry a phone (`/sandbox/api/sms?phone=`).
    const q = request.url.indexOf('?');
    request.log.info(
      { method: request.method, url: q === -1 ? request.url : request.url.slice(0, q), route, statusCode: reply.statusCode, responseTimeMs: Math.round(reply.elapsedTime * 10) / 10 },
      'request completed',
    );
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wecard',
        version: '1',
        description: 'Cardholder, WeChat-facing and operator APIs of wecard. Errors are RFC 9457 problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: {
          session: { type: 'http', scheme: 'bearer', description: 'cardholder session token' },
          agentToken: { type: 'http', scheme: 'bearer', description: "a tenant's customer-service desk token (csa_…)" },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/healthz',
    { schema: { tags: ['ops'], summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Readiness: the database answers and the instance is not shutting down',
        response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String() }) },
      },
    },
    async () => {
      if (state.shuttingDown) throw new AppError('not_ready', 'shutting down');
      try {
        await sql`select 1`.execute(ctx.db);
      } catch {
        throw new AppError('not_ready', 'the database does not answer');
      }
      return { status: 'ready' as const, database: ctx.dbKind };
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(ctx.metrics.contentType);
    return ctx.metrics.metrics();
  });

  for (const mod of opts.modules ?? []) {
    await mod(app, ctx);
  }

  await app.ready();
  return app as App & { state: ServerState };
}

/**
 * JSON bodies holding U+0000 in a key or a string are refused at the edge (400 validation_failed):
 * PostgreSQL text cannot store it, so any free-text field that reached a column was a failed
 * statement and a 500 (found by fuzzing). The parse itself is Fastify's own (prototype-poisoning
 * protection included); the walk runs only when the raw text holds an escaped NUL, and uses an
 * explicit stack, so a deeply nested body cannot overflow it.
 */
function refuseNulInJson(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      if (/\\u0000/i.test(body as string) && holdsNul(value)) {
        return done(AppError.validation([{ field: 'body', message: 'must not contain the NUL character (U+0000)' }]), undefined);
      }
      done(null, value);
    });
  });
}

function holdsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return true;
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\u0000')) return true;
        stack.push(x);
      }
    }
  }
  return false;
}
