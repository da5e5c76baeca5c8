// Test-only crash points: the kill test names a point in WECARD_TOPUP_CRASH_AT and the process SIGKILLs itself there, or a random few milliseconds later (the one place that env var is read).
import process from 'node:process';

/**
 * The points on the money path where a crash must lose nothing. Each is between two durable steps
 * (or inside a transaction, where a crash must roll everything back).
 */
export const CRASH_POINTS = [
  'notify.in_tx',
  'notify.after_credit',
  'query.after_answer',
  'query.in_tx',
  'refund.after_intent',
  'refund.after_call',
  'order.after_intent',
  'order.after_prepay',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

interface Armed {
  point: string;
  /** Crash on the n-th time the point is reached (1 = the first). */
  hit: number;
  /** Kill this many ms after that hit instead of at once: wherever the process then is (a later step, the commit, the answer, another request). */
  delayMs: number | undefined;
}

let armed: Armed | null | undefined;
let hits = 0;

/**
 * `WECARD_TOPUP_CRASH_AT=point[:n[:delayMs]]`, honoured only outside production (NODE_ENV=production
 * ignores it): a test of crash safety, never a switch anyone could leave on in a deployment.
 */
function arm(): Armed | null {
  const spec = process.env.WECARD_TOPUP_CRASH_AT;
  if (!spec || process.env.NODE_ENV === 'production') return null;
  const [point, n, delay] = spec.split(':');
  if (!(CRASH_POINTS as readonly string[]).includes(point!)) return null;
  const delayMs = delay === undefined || delay === '' ? undefined : Math.max(0, Number(delay) || 0);
  return { point: point!, hit: Math.max(1, Number(n) || 1), delayMs };
}

/** Kills the process here (or `delayMs` later) when a test armed this point; otherwise nothing. */
export function crashPoint(point: CrashPoint): void {
  if (armed === undefined) armed = arm();
  if (!armed || armed.point !== point) return;
  hits++;
  if (hits !== armed.hit) return;
  if (armed.delayMs === undefined) process.kill(process.pid, 'SIGKILL');
  else setTimeout(() => process.kill(process.pid, 'SIGKILL'), armed.delayMs);
}
