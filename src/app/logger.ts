// The pino logger: structured JSON, sensitive fields redacted by path, and a free-text scrub as backstop.
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { scrubText } from '../shared/mask.ts';
import type { LogLevel } from './config.ts';

/** Field names that carry C2/C3 personal financial information (JR/T 0171-2020). */
export const SENSITIVE_KEYS = [
  'cardNumber', 'citizenCardNumber', 'idNumber', 'phone', 'holderName', 'otp',
  'paymentPassword', 'password', 'answer', 'token', 'session_key', 'sessionKey', 'appSecret',
  'apiV3Key', 'encodingAESKey', 'secret', 'privateKey', 'platformPrivateKeyPem', 'access_token',
] as const;

const HEADER_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
];

function redactPaths(): string[] {
  const paths = [...HEADER_PATHS];
  for (const k of SENSITIVE_KEYS) {
    paths.push(k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`);
  }
  return paths;
}

export function loggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    base: { service: 'wecard' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths(), censor: '[redacted]' },
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
