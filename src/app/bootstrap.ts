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
  };
  ctx.jobs.bind(ctx);
  return {
    ctx,
    close: async () => {
      await ctx.jobs.stop();
      await handle.close();
    },
  };
}
