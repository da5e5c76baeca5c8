// The stack of problem dialogs (step-up, device activation, captcha, dormant account, notices) and the resolver that opens them per problem code.
import { shallowReactive } from 'vue';
import type { CallInfo, Problem, Resolution } from '../api/http.ts';

export interface Captcha {
  challengeId: string;
  kind: string;
  algorithm: string;
  prefix: string;
  difficultyBits: number;
  expiresAt: string;
}

export type DialogSpec =
  | { kind: 'stepUp'; challengeId: string; method: string; otpSentTo?: string }
  | { kind: 'activation' }
  | { kind: 'captcha'; captcha: Captcha }
  | { kind: 'dormant'; problem: Problem; cardId: string | null }
  | { kind: 'notice'; problem: Problem }
  | { kind: 'confirm'; title: string; message: string; danger?: boolean };

export type OpenDialog = DialogSpec & { id: number; done(result: unknown): void };

/** Dialogs open at once (a step-up inside a reactivation inside a page's call): more means a loop. */
const MAX_OPEN_DIALOGS = 4;
let nextId = 1;
export const openDialogs = shallowReactive<OpenDialog[]>([]);

function open<T>(spec: DialogSpec): Promise<T | undefined> {
  if (openDialogs.length >= MAX_OPEN_DIALOGS) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const id = nextId++;
    const d: OpenDialog = {
      ...spec,
      id,
      done(result) {
        const i = openDialogs.findIndex((x) => x.id === id);
        if (i >= 0) openDialogs.splice(i, 1);
        resolve(result as T);
      },
    };
    openDialogs.push(d);
  });
}

/** Asks the person to confirm an action (loss report, unbind, withdrawing a consent); true when confirmed. */
export async function confirmAction(c: { title: string; message: string; danger?: boolean }): Promise<boolean> {
  return (await open<boolean>({ kind: 'confirm', ...c })) === true;
}

/** Codes a dialog explains (the call is not retried); the page still gets the error to show in place. */
export const NOTICE_CODES = new Set([
  'otp_locked',
  'quota_exceeded',
  'rate_limited',
  'card_lost',
  'card_frozen',
  'card_cancelled',
  'cross_border_locked',
  'core_unavailable',
  'service_paused',
  'forbidden',
]);

const CARD_PATH = /^\/api\/v1\/cards\/([^/]+)\//;

/**
 * Opens the dialog a problem needs and says whether to retry the call: step-up, device
 * activation and captcha are resolved by the person (or the worker) and retried; a dormant account
 * offers the tenant's reactivation routes; the notice codes are explained. Anything else is left
 * to the page (undefined).
 */
export async function resolveProblem(problem: Problem, call: CallInfo): Promise<Resolution | undefined> {
  switch (problem.code) {
    case 'step_up_required': {
      const challengeId = typeof problem.challengeId === 'string' ? problem.challengeId : '';
      if (!challengeId) return undefined;
      const passed = await open<boolean>({ kind: 'stepUp', challengeId, method: String(problem.method ?? 'sms_otp'), otpSentTo: typeof problem.otpSentTo === 'string' ? problem.otpSentTo : undefined });
      return passed ? { retry: true } : { retry: false };
    }
    case 'device_activation_required': {
      const ok = await open<boolean>({ kind: 'activation' });
      return ok ? { retry: true } : { retry: false };
    }
    case 'captcha_required': {
      const captcha = problem.captcha as Captcha | undefined;
      if (!captcha || typeof captcha.prefix !== 'string') return undefined;
      const answer = await open<string>({ kind: 'captcha', captcha });
      return answer ? { retry: true, headers: { 'x-captcha': `${captcha.challengeId}:${answer}` } } : { retry: false };
    }
    case 'account_dormant': {
      const m = CARD_PATH.exec(call.path);
      const reactivated = await open<boolean>({ kind: 'dormant', problem, cardId: m ? decodeURIComponent(m[1]!) : null });
      return reactivated ? { retry: true } : { retry: false };
    }
    default:
      if (NOTICE_CODES.has(problem.code)) {
        await open<void>({ kind: 'notice', problem });
        return { retry: false };
      }
      return undefined;
  }
}
