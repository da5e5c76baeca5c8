// The one way the pages call the server: auth and device headers, problem+json errors, and the interactive problems (step-up, captcha…) resolved then retried.
import { clearSession, deviceId, session } from '../state/session.ts';
import { randomId } from '../state/storage.ts';

/** RFC 9457 problem with the server's stable `code` and its per-code fields. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  code: string;
  detail?: string;
  errors?: { field: string; message: string }[];
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  /** True when a dialog already told the person (the page need not say it again loudly). */
  handled = false;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? problem.code);
    this.name = 'ApiError';
    this.status = problem.status;
    this.problem = problem;
  }
  get code(): string {
    return this.problem.code;
  }
  /** `validation_failed`'s `errors[]` by field name (`body.cardNumber`, `/cardNumber` and `cardNumber` all become `cardNumber`). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.problem.errors ?? []) {
      const name = e.field.replace(/^(?:body|query|params|headers)[./]/, '').replace(/^\//, '').split(/[./]/)[0] ?? e.field;
      out[name] ??= e.message;
    }
    return out;
  }
}

export interface CallInfo {
  method: string;
  path: string;
}

/** What resolving a problem gave: retry (with extra headers, e.g. X-Captcha) or give up. */
export type Resolution = { retry: true; headers?: Record<string, string> } | { retry: false };
export type ProblemResolver = (problem: Problem, call: CallInfo) => Promise<Resolution | undefined>;

let resolver: ProblemResolver | undefined;
let onUnauthenticated: (() => void) | undefined;

/** main.ts wires the dialogs in (kept apart so this module stays free of UI code). */
export function setProblemResolver(r: ProblemResolver): void {
  resolver = r;
}
export function setUnauthenticatedHandler(h: () => void): void {
  onUnauthenticated = h;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  headers?: Record<string, string>;
  /** Send the session token (default true when signed in). */
  auth?: boolean;
  /** Add an Idempotency-Key (kept across the retries of this one call). */
  idempotent?: boolean;
  /** Resolve step-ups, captchas, device activation… with dialogs and retry (default true). */
  interactive?: boolean;
  /** Answer the Response itself (downloads). */
  raw?: boolean;
  signal?: AbortSignal;
}

/** Rounds of "resolve a problem, then retry" one call may take (step-up then captcha then …). */
const MAX_RESOLVE_ROUNDS = 4;
/** Every call gives up after this long; a phone on a bad network must see an error, not a spinner forever. */
const REQUEST_TIMEOUT_MS = 20_000;

function url(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

async function problemOf(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '');
  try {
    const p = JSON.parse(text) as Problem;
    if (p && typeof p.code === 'string') return { ...p, status: res.status };
  } catch {
    /* not JSON: a proxy's error page */
  }
  return { status: res.status, code: res.status === 404 ? 'not_found' : res.status >= 500 ? 'unavailable' : 'http_error', detail: `HTTP ${res.status}` };
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const extra: Record<string, string> = {};
  const idempotencyKey = opts.idempotent ? randomId(18) : undefined;
  for (let round = 0; ; round++) {
    const headers: Record<string, string> = { accept: 'application/json', 'x-device-id': deviceId(), ...opts.headers, ...extra };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    if (opts.auth !== false && session.token) headers.authorization = `Bearer ${session.token}`;
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(url(path, opts.query), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal ? (typeof AbortSignal.any === 'function' ? AbortSignal.any([opts.signal, timeout]) : opts.signal) : timeout,
        credentials: 'same-origin',
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new ApiError({ status: 0, code: 'network', detail: err instanceof Error ? err.message : String(err) });
    }
    if (res.ok) {
      if (opts.raw) return res as unknown as T;
      if (res.status === 204) return undefined as T;
      return (await res.json()) as T;
    }
    const problem = await problemOf(res);
    if (problem.code === 'unauthenticated' && opts.auth !== false) {
      clearSession();
      onUnauthenticated?.();
      const e = new ApiError(problem);
      e.handled = true;
      throw e;
    }
    if (opts.interactive !== false && resolver && round < MAX_RESOLVE_ROUNDS) {
      const r = await resolver(problem, { method, path });
      if (r?.retry) {
        Object.assign(extra, r.headers ?? {});
        continue;
      }
      const e = new ApiError(problem);
      e.handled = r !== undefined;
      throw e;
    }
    throw new ApiError(problem);
  }
}
