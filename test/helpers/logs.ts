// Captures log lines of test servers; every line is also kept for the suite-wide leak scan.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/app/logger.ts';

export const LOG_DIR = path.resolve(process.env.WECARD_TEST_RESULTS ?? 'test-results', 'logs');

/** A logger at debug level whose lines land in `lines` and in test-results/logs for the leak scan. */
export function captureLogs() {
  const lines: string[] = [];
  mkdirSync(LOG_DIR, { recursive: true });
  const file = path.join(LOG_DIR, `${process.pid}.ndjson`);
  const stream = new Writable({
    write(chunk, _enc, cb) {
      const text = chunk.toString('utf8');
      for (const line of text.split('\n')) if (line) lines.push(line);
      appendFileSync(file, text);
      cb();
    },
  });
  const log = createLogger('debug', stream);
  return { log, lines };
}
