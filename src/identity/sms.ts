// The SMS port: the sender interface, the HTTP provider adapter (JSON + bearer, timeout, bounded retries) and the sandbox outbox adapter.
import type { AppContext } from '../app/context.ts';
import { AppError } from '../app/errors.ts';
import { sandboxSendSms } from '../sandbox/wx/index.ts';

export interface Sms {
  /** 11-digit mainland mobile number. */
  phone: string;
  text: string;
  /** The OTP the text carries, if any: only the sandbox outbox keeps it (for tests and the simulated phone). */
  code?: string;
}

export interface SmsSender {
  send(sms: Sms): Promise<void>;
}

/** One provider call may take this long. */
export const SMS_TIMEOUT_MS = 5_000;
/** Calls per message, the first included; only network errors, 429 and 5xx are retried. */
export const SMS_MAX_ATTEMPTS = 3;
const SMS_RETRY_BASE_MS = 200;

class SmsDeliveryError extends Error {
  override name = 'SmsDeliveryError';
  constructor(message: string, readonly retryable: boolean) {
    super(message);
  }
}

/**
 * The SMS gateway: POST `{ phone, text }` as JSON with `Authorization: Bearer <token>`. A 2xx is
 * delivery accepted. The OTP never goes in a separate field: providers see the text only.
 */
export function httpSmsSender(opts: { url: string; token: string | undefined; fetchImpl?: typeof fetch; sleep?: (ms: number) => Promise<void> }): SmsSender {
  const doFetch = opts.fetchImpl ?? fetch;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  return {
    async send(sms) {
      let last: SmsDeliveryError | undefined;
      for (let attempt = 1; attempt <= SMS_MAX_ATTEMPTS; attempt++) {
        try {
          const res = await doFetch(opts.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
            },
            body: JSON.stringify({ phone: sms.phone, text: sms.text }),
            signal: AbortSignal.timeout(SMS_TIMEOUT_MS),
          });
          // Drain the body so the connection is reused; its content is not needed.
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return;
          last = new SmsDeliveryError(`SMS provider answered ${res.status}`, res.status === 429 || res.status >= 500);
        } catch (err) {
          last = new SmsDeliveryError(`SMS provider unreachable (${(err as Error).name})`, true);
        }
        if (!last.retryable) break;
        if (attempt < SMS_MAX_ATTEMPTS) await sleep(SMS_RETRY_BASE_MS * 2 ** (attempt - 1));
      }
      throw last!;
    },
  };
}

/** The sandbox's SMS outbox (GET /sandbox/api/sms): used when the sandbox is on and no provider is set. */
export function sandboxSmsSender(ctx: AppContext): SmsSender {
  return { send: (sms) => sandboxSendSms(ctx, sms) };
}

/** What the configuration gives: the provider when configured, else the sandbox outbox, else none. */
export function defaultSmsSender(ctx: AppContext): SmsSender {
  const { providerUrl, providerToken } = ctx.config.sms;
  if (providerUrl) return httpSmsSender({ url: providerUrl, token: providerToken });
  if (ctx.config.sandbox) return sandboxSmsSender(ctx);
  return {
    send: async () => {
      throw new SmsDeliveryError('no SMS gateway is configured (SMS_PROVIDER_URL)', false);
    },
  };
}

/**
 * Sends one message; a failure becomes 503 `service_paused` for the caller (the challenge is
 * cancelled by the caller), and the log line carries no phone and no text.
 */
export async function deliverSms(ctx: AppContext, sender: SmsSender, sms: Sms, purpose: string): Promise<void> {
  try {
    await sender.send(sms);
  } catch (err) {
    ctx.log.warn({ purpose, err: { name: (err as Error).name, message: (err as Error).message } }, 'SMS not delivered');
    throw new AppError('service_paused', 'the text message could not be sent; try again in a moment');
  }
}
