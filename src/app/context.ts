// The dependency bag every use case receives: database, clock, config, crypto, logger, ports.
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Clock } from '../shared/clock.ts';
import type { FieldCrypto } from '../shared/crypto.ts';
import type { Db } from '../db/tx.ts';
import type { Registry } from 'prom-client';
import type { JobRunner } from './jobs.ts';
import type { Redis } from 'ioredis';

export interface AppContext {
  config: Config;
  db: Db;
  dbKind: 'postgres' | 'pglite';
  clock: Clock;
  log: Logger;
  crypto: FieldCrypto;
  /** Secret mixed into payment-password hashes (C3 data is never stored in clear). */
  passwordPepper: string;
  metrics: Registry;
  /** The instance's id in logs, metrics and leases (host:pid:random). */
  instanceId: string;
  /** Background jobs: modules register handlers from their plugin; enqueue with enqueueJob. */
  jobs: JobRunner;
  /**
   * Redis when REDIS_URL is set (shared rate limits and caches), else undefined. It fails fast
   * (no offline queue): callers fall back to in-process state and PostgreSQL stays authoritative.
   */
  redis: Redis | undefined;
}
