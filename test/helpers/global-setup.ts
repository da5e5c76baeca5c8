// Suite-wide setup and the final leak scan: no sensitive demo value may appear in any captured log line.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const LOG_DIR = path.resolve('test-results/logs');
const SECRETS_FILE = path.resolve('test-results/sensitive-values.txt');

export function setup(): void {
  rmSync(LOG_DIR, { recursive: true, force: true });
  rmSync(SECRETS_FILE, { force: true });
}

/**
 * Every value a test registered as sensitive (test/helpers/secrets.ts) is searched for in every
 * log line the test servers wrote. One hit fails the run.
 */
export function teardown(): void {
  if (!existsSync(LOG_DIR)) return;
  const secrets = existsSync(SECRETS_FILE)
    ? [...new Set(readFileSync(SECRETS_FILE, 'utf8').split('\n').filter((s) => s.length >= 4))]
    : [];
  const leaks: string[] = [];
  let lines = 0;
  for (const f of readdirSync(LOG_DIR)) {
    for (const line of readFileSync(path.join(LOG_DIR, f), 'utf8').split('\n')) {
      if (!line) continue;
      lines++;
      for (const s of secrets) if (line.includes(s)) leaks.push(`${f}: value ending ${s.slice(-2)} in: ${line.slice(0, 200)}`);
    }
  }
  process.stdout.write(`log leak scan: ${lines} log lines checked against ${secrets.length} sensitive values\n`);
  if (leaks.length > 0) {
    throw new Error(`sensitive values leaked into logs (${leaks.length}):\n${leaks.slice(0, 20).join('\n')}`);
  }
}
