// The error catalogue: stable codes from API.md, the AppError type, and its problem+json form.

/** Each stable code with its HTTP status and title. Add codes here; never rename one (API.md). */
export const ERROR_CODES = {
  validation_failed: { status: 400, title: 'A field is malformed' },
  unauthenticated: { status: 401, title: 'No or expired session' },
  forbidden: { status: 403, title: 'Not yours' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  idempotency_conflict: { status: 409, title: 'Idempotency key reused with another body' },
  conflict: { status: 409, title: 'Conflicts with the current state' },
  payload_too_large: { status: 413, title: 'Body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  otp_invalid: { status: 422, title: 'Wrong or expired code' },
  otp_locked: { status: 429, title: 'Too many wrong codes' },
  quota_exceeded: { status: 429, title: 'Daily query quota used up' },
  rate_limited: { status: 429, title: 'Too many requests' },
  step_up_required: { status: 403, title: 'Further verification required' },
  device_activation_required: { status: 403, title: 'New device: activate by SMS first' },
  captcha_required: { status: 403, title: 'Solve the challenge first' },
  card_not_bindable: { status: 422, title: "Card elements do not match the bank's records" },
  card_lost: { status: 423, title: 'Card reported lost' },
  card_frozen: { status: 423, title: 'Card frozen' },
  card_cancelled: { status: 423, title: 'Card cancelled' },
  account_dormant: { status: 423, title: 'Account dormant' },
  cross_border_locked: { status: 423, title: 'Queries from outside the mainland are locked' },
  amount_out_of_range: { status: 422, title: "Amount outside the method's limits" },
  insufficient_funds: { status: 422, title: 'Insufficient funds' },
  core_unavailable: { status: 503, title: 'Core banking unreachable' },
  service_paused: { status: 503, title: 'Service temporarily paused' },
  not_ready: { status: 503, title: 'Not ready' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  /** JSON pointer or dotted name of the field, e.g. `/amount` or `body.amount`. */
  field: string;
  message: string;
}

/** A failure with a stable code; `extra` becomes top-level fields of the problem (e.g. attemptsLeft). */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, detail?: string, extra: Record<string, unknown> = {}) {
    super(detail ?? ERROR_CODES[code].title);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.extra = extra;
  }

  static validation(errors: FieldError[], detail?: string): AppError {
    const first = errors[0];
    return new AppError(
      'validation_failed',
      detail ?? (first ? `${first.field}: ${first.message}` : 'the request is malformed'),
      { errors },
    );
  }
}

/**
 * Collects the field errors of several parses, so one validation_failed answer names every
 * malformed field at once: `attempt` runs a parse and keeps its field errors instead of throwing.
 */
export class FieldErrors {
  readonly errors: FieldError[] = [];

  attempt<T>(parse: () => T): T | undefined {
    try {
      return parse();
    } catch (err) {
      if (err instanceof AppError && Array.isArray(err.extra.errors)) this.errors.push(...(err.extra.errors as FieldError[]));
      else throw err;
      return undefined;
    }
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  instance?: string;
  [extra: string]: unknown;
}

/** RFC 9457 problem document for an AppError. `type` is a stable URI per code. */
export function toProblem(err: AppError, instance?: string): Problem {
  return {
    ...err.extra,
    type: `https://wecard.dev/problems/${err.code}`,
    title: ERROR_CODES[err.code].title,
    status: err.status,
    code: err.code,
    detail: err.message,
    ...(instance ? { instance } : {}),
  };
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
