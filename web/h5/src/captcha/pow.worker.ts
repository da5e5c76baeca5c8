// Web Worker: runs the proof-of-work search off the page's thread so the captcha dialog stays responsive and can show progress.
import { solvePow } from './pow.ts';

interface Job {
  prefix: string;
  difficultyBits: number;
}

self.onmessage = (e: MessageEvent<Job>) => {
  const { prefix, difficultyBits } = e.data;
  const nonce = solvePow(prefix, difficultyBits, (tries) => {
    (self as unknown as Worker).postMessage({ type: 'progress', tries });
  });
  (self as unknown as Worker).postMessage(nonce === undefined ? { type: 'failed' } : { type: 'solved', nonce });
};
