// The pino logger: structured JSON, sensitive fields redacted by path, and a free-text scrub as backstop.
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { scrubText } from '../shared/mask.ts';
import type { LogLevel } from './config.ts';

/** Field names that carry C2/C3 personal financial information (JR/T 0171-2020). */
export const SENSITIVE_KEYS = [
  'cardNumber', 'citizenCardNumber', 'idNumber', 'phone', 'holderName', 'otp',
  'paymentPassword', 'password', 'answer', 'token', 'session_key', 'sessionKey', 'appSecret',
  'apiV3Key', 'encodingAESKey', 'secret', 'privateKey', 'platformPrivateKeyPem', 'access_token',
  'authorization', 'cookie', 'set-cookie', 'x-csrf-token',
] as const;

const SENSITIVE = new Set<string>(SENSITIVE_KEYS);
/** How deep the key walk looks into a logged object; deeper values still pass the text scrub. */
const REDACT_MAX_DEPTH = 8;
const CENSOR = '[redacted]';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Replaces the value of every sensitive key, at any depth up to REDACT_MAX_DEPTH, in plain objects
 * and arrays. Copy on write: an object with nothing to hide is returned as it is, so the common
 * log line costs one pass over its keys. Class instances (errors, requests, typed wrappers) are
 * left to their serialisers and toJSON; the text scrub runs after all of this anyway.
 *
 * This walk replaces pino's wildcard redact paths (`*.cardNumber`, `*.*.cardNumber`…), which made
 * pino run the redactor over every value of every line and every child logger's bindings.
 */
export function redactSensitive<T>(value: T, depth = 0): T {
  if (depth >= REDACT_MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const r = redactSensitive(value[i], depth + 1);
      if (r !== value[i]) (out ??= value.slice())[i] = r;
    }
    return (out ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const k in value) {
    const v = value[k];
    const r = SENSITIVE.has(k) ? (v === undefined ? v : CENSOR) : redactSensitive(v, depth + 1);
    if (r !== v) (out ??= { ...value })[k] = r;
  }
  return (out ?? value) as T;
}

let lastMs = -1;
let lastTime = '';
/** pino's isoTime, formatted once per millisecond rather than once per line. */
function isoTimeMemo(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastTime = `,"time":"${new Date(ms).toISOString()}"`;
  }
  return lastTime;
}

export function loggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    base: { service: 'wecard' },
    timestamp: isoTimeMemo,
    // Sensitive keys are redacted by one walk over each logged object (redactSensitive), not by
    // pino's path redaction, whose wildcard paths cost more than the rest of a request.
    formatters: { log: (obj) => redactSensitive(obj) },
    hooks: {
      // Last line of defence: a value that slipped past redaction (say, inside a message
      // string or an error text) is masked before the line leaves the process.
      streamWrite: (line: string) => scrubText(line),
    },
    serializers: {
      err: pino.stdSerializers.err,
      req: (req: { method?: string; url?: string; id?: string; headers?: Record<string, unknown> }) => ({
        id: req.id,
        method: req.method,
        // Query strings may carry a phone (`/sandbox/api/sms?phone=`); keep the path only.
        url: typeof req.url === 'string' ? req.url.split('?')[0] : req.url,
      }),
    },
  };
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

export type { Logger };
