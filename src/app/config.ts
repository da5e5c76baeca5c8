// Configuration: read from the environment (and an optional wecard.config.json), validated once at start.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** `embedded` when no DATABASE_URL is given: PGlite, sandbox, demo data. */
  mode: 'embedded' | 'production';
  nodeEnv: string;
  host: string;
  port: number;
  /** Base URL users and WeChat reach this server at (links, notify_url, OAuth redirect). */
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  dbPoolMax: number;
  redisUrl: string | undefined;
  mqttUrl: string | undefined;
  /** An external core banking system (HTTP JSON contract in src/core); without it the built-in ledger is the core. */
  core: { url: string | undefined; token: string | undefined };
  /** The SMS gateway (HTTP JSON provider); without it OTPs go to the sandbox outbox (sandbox on) or nowhere (refused). */
  sms: { providerUrl: string | undefined; providerToken: string | undefined };
  logLevel: LogLevel;
  /** Mount the local WeChat platform at /sandbox. Never allowed with NODE_ENV=production. */
  sandbox: boolean;
  /** Seed demo tenants and cardholders on first start (embedded mode default). */
  seedDemo: boolean;
  /** The wecard server the sandbox platform calls back (OA pushes, WeCom events); default publicUrl. */
  sandboxServerUrl: string;
  shutdownTimeoutMs: number;
  /** Field-encryption keys by version (hex, 16 bytes each) and the version new data uses. */
  fieldKeys: Record<string, string> | undefined;
  fieldKeyCurrent: string | undefined;
  /** HMAC-SM3 key for blind indexes (hex, ≥ 32 bytes). */
  blindIndexKey: string | undefined;
  /** Pepper mixed into payment-password hashes (≥ 16 characters). */
  passwordPepper: string | undefined;
  wechat: {
    /** api.weixin.qq.com (OA, mini-program, message APIs). */
    apiBase: string;
    /** api.mch.weixin.qq.com (Pay v3). */
    payBase: string;
    /** qyapi.weixin.qq.com (WeCom). */
    wecomBase: string;
    /** open.weixin.qq.com (OA web authorisation page). */
    openBase: string;
    /**
     * Where WeCom serves the contact-way QR images its API links to (https origins): the H5 pages'
     * CSP lets images load from these, and links to them are answered as https.
     */
    wecomQrImageOrigins: string[];
  };
}

/** WeCom's contact-way QR images (add_contact_way's qr_code) as the platform serves them today. */
export const DEFAULT_WECOM_QR_IMAGE_ORIGINS = ['https://p.qpic.cn', 'https://wework.qpic.cn'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const PORT_MAX = 65_535;
const POOL_MAX_LIMIT = 200;
const SHUTDOWN_TIMEOUT_MAX_MS = 120_000;

/** Reads `wecard.config.json` (keys are the environment variable names); the environment wins. */
export function readConfigFile(cwd: string, env: Source): Source {
  const file = env.WECARD_CONFIG ?? path.join(cwd, 'wecard.config.json');
  if (!existsSync(file)) {
    if (env.WECARD_CONFIG) throw new ConfigError([`WECARD_CONFIG: file ${file} does not exist`]);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([`${file}: not valid JSON (${(err as Error).message})`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`${file}: must be a JSON object whose keys are variable names`]);
  }
  const out: Source = {};
  for (const [k, v] of Object.entries(parsed)) {
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** Builds the config from a source map; collects every problem and throws them together. */
export function parseConfig(source: Source): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = source[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return def;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}: must be a whole number from ${min} to ${max}, got "${raw}"`);
      return def;
    }
    return Number(raw);
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return def;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name}: must be true or false, got "${raw}"`);
    return def;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) {
        problems.push(`${name}: must be a ${protocols.join(' or ')} URL, got protocol "${u.protocol}"`);
        return undefined;
      }
      return raw;
    } catch {
      problems.push(`${name}: not a valid URL`);
      return undefined;
    }
  };
  /** A list of https origins (scheme and host, no path), separated by spaces or commas. */
  const origins = (name: string): string[] | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    const out: string[] = [];
    for (const item of raw.split(/[\s,]+/).filter(Boolean)) {
      let u: URL | undefined;
      try {
        u = new URL(item);
      } catch {
        u = undefined;
      }
      if (!u || u.protocol !== 'https:' || u.origin !== item.replace(/\/+$/, '').toLowerCase() || u.username || u.password) {
        problems.push(`${name}: "${item}" is not an https origin such as https://p.qpic.cn`);
        continue;
      }
      out.push(u.origin);
    }
    return out;
  };
  const hex = (name: string, minBytes: number): string | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    if (!/^[0-9a-fA-F]+$/.test(raw) || raw.length % 2 !== 0 || raw.length / 2 < minBytes) {
      problems.push(`${name}: must be hex of at least ${minBytes} bytes`);
      return undefined;
    }
    return raw.toLowerCase();
  };

  const nodeEnv = get('NODE_ENV') ?? 'development';
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const rawDbUrl = get('DATABASE_URL');
  const mode = rawDbUrl === undefined ? 'embedded' : 'production';
  const host = get('HOST') ?? '127.0.0.1';
  const port = int('PORT', 3000, 0, PORT_MAX);
  const publicUrl = (url('PUBLIC_URL', ['http:', 'https:']) ?? `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`).replace(/\/+$/, '');

  const logLevelRaw = get('LOG_LEVEL') ?? 'info';
  let logLevel: LogLevel = 'info';
  if ((LOG_LEVELS as readonly string[]).includes(logLevelRaw)) logLevel = logLevelRaw as LogLevel;
  else problems.push(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}, got "${logLevelRaw}"`);

  const sandbox = bool('SANDBOX', mode === 'embedded');
  if (sandbox && nodeEnv === 'production') {
    problems.push('SANDBOX: the WeChat sandbox cannot be mounted with NODE_ENV=production');
  }
  // Demo cardholders are fictitious people whose clear numbers are published on the sandbox's demo sheet.
  const seedDemo = bool('SEED_DEMO', sandbox);
  if (seedDemo && (nodeEnv === 'production' || !sandbox)) {
    problems.push('SEED_DEMO: demo data is for sandbox installs only (needs SANDBOX on and NODE_ENV other than production)');
  }

  let fieldKeys: Record<string, string> | undefined;
  const fieldKeysRaw = get('FIELD_KEYS');
  if (fieldKeysRaw !== undefined) {
    fieldKeys = {};
    for (const part of fieldKeysRaw.split(',')) {
      const m = /^\s*([A-Za-z0-9_-]{1,16}):([0-9a-fA-F]{32})\s*$/.exec(part);
      if (!m) {
        problems.push('FIELD_KEYS: must be "version:hex32[,version:hex32…]" (16-byte SM4 keys in hex)');
        fieldKeys = undefined;
        break;
      }
      fieldKeys[m[1]!] = m[2]!.toLowerCase();
    }
  }
  const fieldKeyCurrent = get('FIELD_KEY_CURRENT');
  if (fieldKeys && fieldKeyCurrent && !(fieldKeyCurrent in fieldKeys)) {
    problems.push(`FIELD_KEY_CURRENT: "${fieldKeyCurrent}" is not one of the versions in FIELD_KEYS`);
  }
  const blindIndexKey = hex('BLIND_INDEX_KEY', 32);
  const passwordPepper = get('PASSWORD_PEPPER');
  if (passwordPepper !== undefined && passwordPepper.length < 16) {
    problems.push('PASSWORD_PEPPER: must be at least 16 characters');
  }
  if (mode === 'production') {
    if (!fieldKeysRaw) problems.push('FIELD_KEYS: required when DATABASE_URL is set (production keys are never generated)');
    if (!get('BLIND_INDEX_KEY')) problems.push('BLIND_INDEX_KEY: required when DATABASE_URL is set');
    if (!passwordPepper) problems.push('PASSWORD_PEPPER: required when DATABASE_URL is set');
  }

  const sandboxBase = `${publicUrl}/sandbox`;
  const wechatDefault = (real: string, sb: string) => (sandbox ? `${sandboxBase}/${sb}` : real);
  const wechat = {
    apiBase: (url('WECHAT_API_BASE', ['http:', 'https:']) ?? wechatDefault('https://api.weixin.qq.com', 'wx')).replace(/\/+$/, ''),
    payBase: (url('WECHAT_PAY_BASE', ['http:', 'https:']) ?? wechatDefault('https://api.mch.weixin.qq.com', 'pay')).replace(/\/+$/, ''),
    wecomBase: (url('WECOM_API_BASE', ['http:', 'https:']) ?? wechatDefault('https://qyapi.weixin.qq.com', 'wecom')).replace(/\/+$/, ''),
    openBase: (url('WECHAT_OPEN_BASE', ['http:', 'https:']) ?? wechatDefault('https://open.weixin.qq.com', 'open')).replace(/\/+$/, ''),
    wecomQrImageOrigins: origins('WECOM_QR_IMAGE_ORIGINS') ?? DEFAULT_WECOM_QR_IMAGE_ORIGINS,
  };

  const config: Config = {
    mode,
    nodeEnv,
    host,
    port,
    publicUrl,
    databaseUrl,
    dataDir: path.resolve(get('DATA_DIR') ?? './data'),
    dbPoolMax: int('DB_POOL_MAX', 20, 1, POOL_MAX_LIMIT),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    mqttUrl: url('MQTT_URL', ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:']),
    core: { url: url('CORE_BANKING_URL', ['http:', 'https:']), token: get('CORE_BANKING_TOKEN') },
    sms: { providerUrl: url('SMS_PROVIDER_URL', ['http:', 'https:']), providerToken: get('SMS_PROVIDER_TOKEN') },
    logLevel,
    sandbox,
    seedDemo,
    sandboxServerUrl: (url('SANDBOX_SERVER_URL', ['http:', 'https:']) ?? publicUrl).replace(/\/+$/, ''),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, SHUTDOWN_TIMEOUT_MAX_MS),
    fieldKeys,
    fieldKeyCurrent: fieldKeyCurrent ?? (fieldKeys ? Object.keys(fieldKeys).at(-1) : undefined),
    blindIndexKey,
    passwordPepper,
    wechat,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The process configuration: the config file's values overlaid by the environment. */
export function loadConfig(env: Source = process.env, cwd = process.cwd()): Config {
  return parseConfig({ ...readConfigFile(cwd, env), ...env });
}

/** Documentation of every variable, used by the README and `--help`. */
export const CONFIG_DOC: ReadonlyArray<[name: string, meaning: string]> = [
  ['DATABASE_URL', 'PostgreSQL URL; when unset wecard runs embedded on PGlite under DATA_DIR'],
  ['DATA_DIR', 'embedded mode: where PGlite and the generated dev keys live (default ./data)'],
  ['HOST / PORT', 'listen address (default 127.0.0.1:3000)'],
  ['PUBLIC_URL', 'the URL users and WeChat reach this server at (default http://HOST:PORT)'],
  ['LOG_LEVEL', 'fatal | error | warn | info | debug | trace | silent (default info)'],
  ['DB_POOL_MAX', 'PostgreSQL pool size per instance (default 20)'],
  ['REDIS_URL', 'optional Redis for shared rate limits and caches'],
  ['MQTT_URL', 'the card system broker (card status feed)'],
  ['CORE_BANKING_URL', "an external core banking system speaking wecard's core JSON contract (without it the built-in ledger is the core)"],
  ['CORE_BANKING_TOKEN', 'bearer token for CORE_BANKING_URL'],
  ['SMS_PROVIDER_URL', 'the SMS gateway wecard POSTs OTP and alert texts to as JSON (without it, SMS go to the sandbox outbox when the sandbox is on)'],
  ['SMS_PROVIDER_TOKEN', 'bearer token for SMS_PROVIDER_URL'],
  ['SANDBOX', 'mount the local WeChat platform at /sandbox (default: on when embedded; refused with NODE_ENV=production)'],
  ['SANDBOX_SERVER_URL', 'the wecard server the sandbox platform calls back, as WeChat calls the configured server URL (default PUBLIC_URL)'],
  ['SEED_DEMO', 'seed demo tenants and cardholders on first start (default: on with the sandbox; refused without it)'],
  ['FIELD_KEYS', 'SM4 field keys "v1:hex32,v2:hex32"; required in production'],
  ['FIELD_KEY_CURRENT', 'the key version new data is encrypted with (default: the last in FIELD_KEYS)'],
  ['BLIND_INDEX_KEY', 'HMAC-SM3 key (hex, ≥ 32 bytes) for look-ups of encrypted fields; required in production'],
  ['PASSWORD_PEPPER', 'secret mixed into payment-password hashes (≥ 16 chars); required in production'],
  ['WECHAT_API_BASE, WECHAT_PAY_BASE, WECOM_API_BASE, WECHAT_OPEN_BASE', 'WeChat platform base URLs (default: the real platform, or the sandbox when SANDBOX is on)'],
  ['WECOM_QR_IMAGE_ORIGINS', "https origins WeCom serves contact-way QR images from, which the H5 pages may show (default: https://p.qpic.cn https://wework.qpic.cn)"],
  ['SHUTDOWN_TIMEOUT_MS', 'grace period for in-flight requests on SIGTERM (default 10000)'],
  ['WECARD_CONFIG', 'path of a JSON file with any of these variables (default ./wecard.config.json)'],
];
