// A problem+json answer in the person's words: per-code text with its fields (attempts left, wait, quota reset, freeze end, reactivation routes).
import type { Composer } from 'vue-i18n';
import { ApiError, type Problem } from '../api/http.ts';
import { formatMoney, formatTime } from '../format.ts';

type T = Composer['t'];

function minutes(seconds: unknown): number {
  const s = typeof seconds === 'number' && seconds > 0 ? seconds : 60;
  return Math.max(1, Math.ceil(s / 60));
}

export interface ReactivationRoute {
  route: 'counter' | 'online' | 'transfer';
  minAmountFen?: number;
}

export function reactivationRoutes(problem: Problem): ReactivationRoute[] {
  const r = problem.reactivation as { routes?: ReactivationRoute[]; route?: ReactivationRoute['route']; minAmountFen?: number } | undefined;
  if (!r) return [{ route: 'counter' }];
  if (Array.isArray(r.routes) && r.routes.length) return r.routes;
  return r.route ? [{ route: r.route, ...(r.minAmountFen !== undefined ? { minAmountFen: r.minAmountFen } : {}) }] : [{ route: 'counter' }];
}

export function describeRoute(t: T, locale: string, r: ReactivationRoute): string {
  if (r.route === 'transfer') return t('problems.reactivation.transfer', { amount: formatMoney(r.minAmountFen ?? 100, 'CNY', locale) });
  return t(`problems.reactivation.${r.route}`);
}

/** The text for a problem; `fallback` when the code has none of its own. */
export function describeProblem(t: T, locale: string, p: Problem): string {
  switch (p.code) {
    case 'otp_invalid':
      return typeof p.attemptsLeft === 'number' ? t('problems.otp_invalid_left', { n: p.attemptsLeft }) : t('problems.otp_invalid');
    case 'otp_locked':
      return t('problems.otp_locked', { minutes: minutes(p.retryAfter) });
    case 'rate_limited':
      return t('problems.rate_limited', { minutes: minutes(p.retryAfter) });
    case 'quota_exceeded':
      return t('problems.quota_exceeded', { limit: String(p.limit ?? ''), time: typeof p.resetsAt === 'string' ? formatTime(p.resetsAt, locale) : '00:00' });
    case 'card_frozen':
      return typeof p.until === 'string' ? t('problems.card_frozen_until', { time: formatTime(p.until, locale, true) }) : t('problems.card_frozen');
    case 'account_dormant':
      return `${t('problems.account_dormant')} ${reactivationRoutes(p).map((r) => describeRoute(t, locale, r)).join(t('problems.or'))}`;
    case 'validation_failed': {
      const first = p.errors?.[0];
      return first ? t('problems.validation_field', { message: first.message }) : t('problems.validation_failed');
    }
    case 'card_lost':
    case 'card_cancelled':
    case 'cross_border_locked':
    case 'core_unavailable':
    case 'service_paused':
    case 'forbidden':
    case 'not_found':
    case 'conflict':
    case 'card_not_bindable':
    case 'amount_out_of_range':
    case 'step_up_required':
    case 'device_activation_required':
    case 'captcha_required':
    case 'network':
    case 'unavailable':
    case 'idempotency_conflict':
    case 'not_ready':
      return t(`problems.${p.code}`);
    default:
      return t('problems.generic', { code: p.code });
  }
}

export function describeError(t: T, locale: string, err: unknown): string {
  if (err instanceof ApiError) return describeProblem(t, locale, err.problem);
  return t('problems.generic', { code: 'client' });
}
