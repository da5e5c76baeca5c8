// Bench child process: the real wecard server with a ledger-backed, token-checked balance read, and a bare Fastify beside it.
import { createHmac, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import { Type } from 'typebox';
import { parseConfig } from '../src/app/config.ts';
import { createContext } from '../src/app/bootstrap.ts';
import { buildServer, type ModulePlugin } from '../src/app/server.ts';
import { AppError } from '../src/app/errors.ts';
import { openPostgres } from '../src/db/connect.ts';
import { getBalance } from '../src/ledger/index.ts';

export const BENCH_TOKEN_KEY = 'bench-token-key-not-a-secret';

/** A bearer token shaped like a session token: payload.hmac, checked in constant time. */
export function benchToken(subject: string): string {
  const mac = createHmac('sha256', BENCH_TOKEN_KEY).update(subject).digest('base64url');
  return `${Buffer.from(subject).toString('base64url')}.${mac}`;
}

function verifyToken(header: string | undefined): string {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(header ?? '');
  if (!m) throw new AppError('unauthenticated');
  const subject = Buffer.from(m[1]!, 'base64url').toString('utf8');
  const want = createHmac('sha256', BENCH_TOKEN_KEY).update(subject).digest();
  const got = Buffer.from(m[2]!, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new AppError('unauthenticated');
  return subject;
}

const balanceRead: ModulePlugin = (app, ctx) => {
  app.get(
    '/bench/accounts/:accountId/balance',
    {
      preHandler: async (req) => {
        verifyToken(req.headers.authorization);
      },
      schema: {
        params: Type.Object({ accountId: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: {
          200: Type.Object({
            accountId: Type.String(),
            available: Type.Integer(),
            ledger: Type.Integer(),
            currency: Type.String(),
            asOf: Type.String(),
          }),
        },
      },
    },
    async (req) => {
      const b = await getBalance(ctx.db, req.params.accountId);
      return {
        accountId: b.accountId,
        available: Number(b.availableFen),
        ledger: Number(b.postedFen),
        currency: b.currency,
        asOf: b.asOf.toISOString(),
      };
    },
  );
};

async function main(): Promise<void> {
  const url = process.env.BENCH_DATABASE_URL!;
  const schema = process.env.BENCH_SCHEMA!;
  const poolMax = Number(process.env.BENCH_POOL_MAX ?? '20');
  const config = parseConfig({
    DATABASE_URL: url,
    FIELD_KEYS: 'v1:000102030405060708090a0b0c0d0e0f',
    BLIND_INDEX_KEY: 'ab'.repeat(32),
    PASSWORD_PEPPER: 'bench-pepper-0123456789',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    SANDBOX: 'false',
    DB_POOL_MAX: String(poolMax),
  });
  const { createLogger } = await import('../src/app/logger.ts');
  const { default: pino } = await import('pino');
  // Logs go through the production logger (redaction, scrub) into /dev/null: the cost is measured, the bytes are not kept.
  const log = createLogger(config.logLevel, pino.destination({ dest: '/dev/null', sync: false }));
  const handle = openPostgres({ url, poolMax, schema, applicationName: 'wecard-bench' });
  const { ctx } = await createContext(config, { log, dbHandle: handle, migrate: false });
  const app = await buildServer(ctx, { modules: [balanceRead] });
  await app.listen({ host: '127.0.0.1', port: 0 });

  const bare = Fastify();
  bare.get('/bare', async () => ({ hello: 'world' }));
  await bare.listen({ host: '127.0.0.1', port: 0 });

  const port = (s: { server: { address(): unknown } }) => (s.server.address() as { port: number }).port;
  process.send!({ ready: true, appPort: port(app), barePort: port(bare) });
  process.on('disconnect', () => process.exit(0));
  // Exit through process.exit so a --cpu-prof profile is written.
  process.on('SIGTERM', () => process.exit(0));
}

if (process.env.BENCH_CHILD === '1') {
  main().catch((err) => {
    process.stderr.write(`bench server failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
