// Builds the application context from the config: database, migrations, keys, logger, metrics.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { createLogger } from './logger.ts';
import { openPGlite, openPostgres, type DbHandle } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { FieldCrypto, fieldKeysFromHex, generateFieldKeys } from '../shared/crypto.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import { randomToken } from '../shared/ids.ts';
import { JobRunner } from './jobs.ts';
import { Redis } from 'ioredis';

export interface ContextOptions {
  log?: Logger;
  clock?: Clock;
  /** An already opened database (tests); otherwise opened from the config. */
  dbHandle?: DbHandle;
  migrate?: boolean;
}

export interface RunningContext {
  ctx: AppContext;
  close(): Promise<void>;
}

interface StoredDevKeys {
  fieldKeys: Record<string, string>;
  current: string;
  blindIndexKey: string;
  passwordPepper: string;
}

/**
 * Embedded installs get keys generated once and kept in DATA_DIR/keys.json (mode 0600), so data
 * stays readable across restarts. Production never generates keys: config validation demands them.
 */
function embeddedKeys(config: Config, log: Logger): StoredDevKeys {
  const file = path.join(config.dataDir, 'keys.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as StoredDevKeys;
  mkdirSync(config.dataDir, { recursive: true });
  const g = generateFieldKeys();
  const keys: StoredDevKeys = { ...g, passwordPepper: randomToken(24) };
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  log.warn({ file }, 'generated development field-encryption keys; production must set FIELD_KEYS, BLIND_INDEX_KEY and PASSWORD_PEPPER');
  return keys;
}

export function resolveKeys(config: Config, log: Logger): { crypto: FieldCrypto; passwordPepper: string } {
  if (config.fieldKeys && config.fieldKeyCurrent && config.blindIndexKey && config.passwordPepper) {
    return {
      crypto: new FieldCrypto(fieldKeysFromHex(config.fieldKeys, config.fieldKeyCurrent, config.blindIndexKey)),
      passwordPepper: config.passwordPepper,
    };
  }
  const k = embeddedKeys(config, log);
  return {
    crypto: new FieldCrypto(
      fieldKeysFromHex(config.fieldKeys ?? k.fieldKeys, config.fieldKeyCurrent ?? k.current, config.blindIndexKey ?? k.blindIndexKey),
    ),
    passwordPepper: config.passwordPepper ?? k.passwordPepper,
  };
}

/** Commands wait this long for Redis before the caller falls back. */
const REDIS_COMMAND_TIMEOUT_MS = 250;

function openRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    // Fail fast instead of queueing while disconnected: a rate limit must not stall a request.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
    lazyConnect: false,
  });
  let down = false;
  redis.on('error', (err) => {
    if (!down) log.warn({ err: { message: err.message } }, 'redis unavailable; falling back to in-process limits');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('redis available again');
    down = false;
  });
  return redis;
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<RunningContext> {
  const log = opts.log ?? createLogger(config.logLevel);
  const handle =
    opts.dbHandle ??
    (config.databaseUrl
      ? openPostgres({ url: config.databaseUrl, poolMax: config.dbPoolMax })
      : await openPGlite(config.dataDir));
  if (opts.migrate !== false) await migrateToLatest(handle.db);
  const { crypto, passwordPepper } = resolveKeys(config, log);
  const ctx: AppContext = {
    config,
    db: handle.db,
    dbKind: handle.kind,
    clock: opts.clock ?? systemClock,
    log,
    crypto,
    passwordPepper,
    metrics: new Registry(),
    instanceId: `${hostname()}:${process.pid}:${randomToken(4)}`,
    jobs: new JobRunner(),
    redis: config.redisUrl ? openRedis(config.redisUrl, log) : undefined,
  };
  ctx.jobs.bind(ctx);
  return {
    ctx,
    close: async () => {
      await ctx.jobs.stop();
      ctx.redis?.disconnect();
      await handle.close();
    },
  };
}
