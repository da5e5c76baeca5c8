// Solves a captcha challenge in a Web Worker (falling back to this thread where workers are unavailable), with progress and cancel.
import { solvePow } from './pow.ts';

export interface PowJob {
  prefix: string;
  difficultyBits: number;
}

export interface Solving {
  result: Promise<string | undefined>;
  cancel(): void;
}

export function solveInWorker(job: PowJob, onProgress: (tries: number) => void): Solving {
  let worker: Worker | undefined;
  try {
    worker = new Worker(new URL('./pow.worker.ts', import.meta.url), { type: 'module' });
  } catch {
    worker = undefined;
  }
  if (!worker) {
    let cancelled = false;
    const result = new Promise<string | undefined>((resolve) => setTimeout(() => resolve(solvePow(job.prefix, job.difficultyBits, (n) => (onProgress(n), !cancelled))), 0));
    return { result, cancel: () => (cancelled = true) };
  }
  const w = worker;
  let settle: (v: string | undefined) => void = () => {};
  const result = new Promise<string | undefined>((resolve) => {
    settle = resolve;
    w.onmessage = (e: MessageEvent<{ type: string; tries?: number; nonce?: string }>) => {
      if (e.data.type === 'progress') onProgress(e.data.tries ?? 0);
      else {
        w.terminate();
        resolve(e.data.type === 'solved' ? e.data.nonce : undefined);
      }
    };
    w.onerror = () => {
      w.terminate();
      resolve(undefined);
    };
  });
  w.postMessage(job);
  return {
    result,
    cancel: () => {
      w.terminate();
      settle(undefined);
    },
  };
}
