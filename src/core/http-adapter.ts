// An external core over HTTP (CONTRACT.md): bounded timeouts, jittered retries of idempotent calls, a circuit breaker.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { randomToken } from '../shared/ids.ts';
import type { CardElements } from './card-state.ts';
import type { Clear } from './store.ts';
import { CircuitBreaker, type BreakerOptions } from './breaker.ts';
import { DEFAULT_BACKOFF, parseRetryAfterMs, retryDelayMs, type BackoffOptions } from './backoff.ts';
import {
  CONTRACT_VERSION_PATH,
  MAX_CORE_CURSOR_CHARS,
  balanceFromWire,
  cardFromWire,
  elementCheckFromWire,
  errorFromWire,
  transactionPageFromWire,
  type WireElementCheckRequest,
} from './contract.ts';
import {
  CoreError,
  DEFAULT_TRANSACTIONS_PAGE,
  MAX_TRANSACTIONS_PAGE,
  type BalanceOptions,
  type CardKey,
  type CoreBalance,
  type CoreBanking,
  type CoreCardStatus,
  type ElementCheck,
  type TransactionPage,
  type TransactionQuery,
} from './port.ts';

/** One attempt's limit: a balance read that takes longer is better answered from the cache. */
export const CORE_ATTEMPT_TIMEOUT_MS = 1_500;
/** The whole call, retries and their waits included, never takes longer than this. */
export const CORE_CALL_DEADLINE_MS = 4_000;
/** Attempts per call (the first and two retries). */
export const CORE_MAX_ATTEMPTS = 3;
/** The largest answer body read from the core; a page of 100 transactions is far below. */
export const MAX_CORE_RESPONSE_BYTES = 1024 * 1024;

export type CoreOperation = 'balance' | 'transactions' | 'card_status' | 'element_check';
export type CoreCallOutcome = 'ok' | 'not_found' | 'rejected' | 'unavailable' | 'bad_response' | 'breaker_open';

export interface HttpCoreOptions {
  /** Base URL, e.g. `https://core.example/api` (the contract's paths start with /v1 under it). */
  url: string;
  token: string | undefined;
  now: () => Date;
  log: Logger;
  attemptTimeoutMs?: number;
  deadlineMs?: number;
  maxAttempts?: number;
  backoff?: BackoffOptions;
  breaker?: Partial<BreakerOptions>;
  random?: () => number;
  /** Told of every finished call (metrics). */
  observe?: (operation: CoreOperation, outcome: CoreCallOutcome, seconds: number) => void;
}

const RETRYABLE_STATUSES = new Set([429, 500, 502, 503, 504]);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Request {
  operation: CoreOperation;
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  tenantId: string;
}

function outcomeOf(err: unknown): CoreCallOutcome {
  if (!(err instanceof CoreError)) return 'unavailable';
  if (err.reason === 'breaker_open') return 'breaker_open';
  return err.kind;
}

const clear = (v: Clear): string => (typeof v === 'string' ? v : v.reveal());

export class HttpCore implements CoreBanking {
  readonly kind = 'http' as const;
  readonly remote = true;
  readonly breaker: CircuitBreaker;
  private readonly base: string;
  private readonly attemptTimeoutMs: number;
  private readonly deadlineMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly random: () => number;

  constructor(private readonly opts: HttpCoreOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('the core URL must be http or https');
    this.base = opts.url.replace(/\/+$/, '') + CONTRACT_VERSION_PATH;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? CORE_ATTEMPT_TIMEOUT_MS;
    this.deadlineMs = opts.deadlineMs ?? CORE_CALL_DEADLINE_MS;
    this.maxAttempts = Math.max(1, Math.min(opts.maxAttempts ?? CORE_MAX_ATTEMPTS, 10));
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.random = opts.random ?? Math.random;
    this.breaker = new CircuitBreaker(opts.now, opts.breaker);
  }

  private cardPath(card: CardKey, suffix = ''): string {
    return `/tenants/${encodeURIComponent(card.tenantId)}/cards/${encodeURIComponent(card.id)}${suffix}`;
  }

  async balance(card: CardKey, opts: BalanceOptions = {}): Promise<CoreBalance> {
    const json = await this.call({
      operation: 'balance',
      method: 'GET',
      path: this.cardPath(card, '/balance'),
      query: { asOf: opts.asOf?.toISOString() },
      tenantId: card.tenantId,
    });
    return balanceFromWire(json, card.id);
  }

  async transactions(card: CardKey, q: TransactionQuery): Promise<TransactionPage> {
    const limit = q.limit ?? DEFAULT_TRANSACTIONS_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TRANSACTIONS_PAGE) throw new CoreError('rejected', `limit must be 1 to ${MAX_TRANSACTIONS_PAGE}`);
    if (q.cursor !== undefined && (q.cursor.length === 0 || q.cursor.length > MAX_CORE_CURSOR_CHARS)) throw new CoreError('rejected', 'the cursor is not one the core issued');
    const json = await this.call({
      operation: 'transactions',
      method: 'GET',
      path: this.cardPath(card, '/transactions'),
      query: { from: q.from?.toISOString(), to: q.to?.toISOString(), cursor: q.cursor, limit: String(limit), direction: q.direction },
      tenantId: card.tenantId,
    });
    const page = transactionPageFromWire(json);
    if (page.items.length > limit) throw new CoreError('bad_response', 'the core answered more transactions than asked', 'contract');
    return page;
  }

  async cardStatus(card: CardKey): Promise<CoreCardStatus> {
    const json = await this.call({ operation: 'card_status', method: 'GET', path: this.cardPath(card), tenantId: card.tenantId });
    return cardFromWire(json, card.tenantId, card.id);
  }

  async verifyElements(tenantId: string, e: CardElements): Promise<ElementCheck> {
    const body: WireElementCheckRequest = {
      cardNumber: clear(e.cardNumber),
      holderName: clear(e.holderName),
      idType: e.idType,
      idNumber: clear(e.idNumber),
      phone: clear(e.phone),
    };
    const json = await this.call({ operation: 'element_check', method: 'POST', path: `/tenants/${encodeURIComponent(tenantId)}/element-checks`, body, tenantId });
    return elementCheckFromWire(json, tenantId);
  }

  /**
   * One logical call: breaker permit, then attempts with jittered backoff until success, a final
   * answer (2xx, 404, 4xx) or the deadline. Every operation is safe to repeat: reads by nature,
   * the element check by its Idempotency-Key (the contract makes the core answer a repeated key
   * with the first answer and count the attempt once).
   */
  private async call(req: Request): Promise<unknown> {
    const started = performance.now();
    const permit = this.breaker.acquire();
    if (!permit) {
      const err = new CoreError('unavailable', 'the core is unavailable (circuit open)', 'breaker_open');
      this.opts.observe?.(req.operation, 'breaker_open', 0);
      throw err;
    }
    const idempotencyKey = req.method === 'POST' ? `wc_${randomToken()}` : undefined;
    try {
      const json = await this.attempts(req, started, idempotencyKey);
      permit.success();
      this.opts.observe?.(req.operation, 'ok', (performance.now() - started) / 1000);
      return json;
    } catch (err) {
      // A missing card or a refused request is an answer: the core is up.
      if (err instanceof CoreError && (err.kind === 'not_found' || err.kind === 'rejected')) permit.success();
      else permit.failure();
      this.opts.observe?.(req.operation, outcomeOf(err), (performance.now() - started) / 1000);
      throw err;
    }
  }

  private async attempts(req: Request, started: number, idempotencyKey: string | undefined): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const remaining = this.deadlineMs - (performance.now() - started);
      let retryAfterMs: number | undefined;
      let failure: CoreError;
      try {
        // Whole milliseconds: AbortSignal.timeout refuses a fraction (a RangeError on every retry after a timeout).
        return await this.attempt(req, Math.min(this.attemptTimeoutMs, Math.max(Math.floor(remaining), 1)), idempotencyKey);
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err;
        failure = err.error;
        retryAfterMs = err.retryAfterMs;
      }
      if (attempt >= this.maxAttempts) throw failure;
      const delay = retryDelayMs(attempt, this.backoff, retryAfterMs, this.random);
      if (delay === undefined || performance.now() - started + delay >= this.deadlineMs) throw failure;
      this.opts.log.debug({ operation: req.operation, attempt, retryInMs: delay, reason: failure.reason }, 'core call failed; retrying');
      await sleep(delay);
    }
  }

  private async attempt(req: Request, timeoutMs: number, idempotencyKey: string | undefined): Promise<unknown> {
    const url = new URL(this.base + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-tenant-id': req.tenantId,
      'x-request-id': `core_${randomToken(10)}`,
    };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method: req.method, headers, body: req.body === undefined ? undefined : JSON.stringify(req.body), signal, redirect: 'error' });
      text = await readBounded(res, MAX_CORE_RESPONSE_BYTES);
    } catch (err) {
      if (err instanceof CoreError) throw err;
      const timedOut = signal.aborted;
      throw new RetryableError(new CoreError('unavailable', timedOut ? `the core did not answer within ${timeoutMs} ms` : 'the core could not be reached', timedOut ? 'timeout' : 'connection'));
    }
    let json: unknown;
    try {
      json = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.status >= 200 && res.status < 300) {
      if (json === undefined) throw new CoreError('bad_response', 'the core answered without a JSON body', 'contract');
      return json;
    }
    const code = errorFromWire(json)?.code;
    if (res.status === 404 && code === 'card_not_found') throw new CoreError('not_found', 'the core does not know this card');
    if (RETRYABLE_STATUSES.has(res.status)) {
      throw new RetryableError(new CoreError('unavailable', `the core answered ${res.status}`, `http_${res.status}`), parseRetryAfterMs(res.headers.get('retry-after'), Date.now()));
    }
    if (res.status === 401 || res.status === 403) {
      // Our credentials are refused: every call will fail the same way, which users see as an outage.
      this.opts.log.error({ status: res.status }, 'the core refused our credentials (check CORE_BANKING_TOKEN)');
      throw new CoreError('unavailable', 'the core refused our credentials', `http_${res.status}`);
    }
    if (res.status >= 400 && res.status < 500) throw new CoreError('rejected', `the core refused the request (${res.status}${code ? ` ${code}` : ''})`, `http_${res.status}`);
    throw new CoreError('unavailable', `the core answered ${res.status}`, `http_${res.status}`);
  }
}

class RetryableError extends Error {
  constructor(
    readonly error: CoreError,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

/** The body as text, refusing more than `max` bytes (a broken core must not fill our memory). */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw new CoreError('bad_response', 'the core answered more than we read', 'too_large');
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new CoreError('bad_response', 'the core answered more than we read', 'too_large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
