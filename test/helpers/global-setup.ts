// Suite-wide setup and the final leak scan: no sensitive demo value may appear in any captured log line.
// WECARD_TEST_RESULTS names another results folder, so two runs at once do not clear each other's logs.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { buildDbSnapshots } from './db-snapshot.ts';
import { writeDemoCredentials } from './demo-credentials.ts';

const LOG_DIR = path.resolve(process.env.WECARD_TEST_RESULTS ?? 'test-results', 'logs');
const SECRETS_FILE = path.resolve(process.env.WECARD_TEST_RESULTS ?? 'test-results', 'sensitive-values.txt');

export async function setup(): Promise<void> {
  rmSync(LOG_DIR, { recursive: true, force: true });
  rmSync(SECRETS_FILE, { force: true });
  await Promise.all([buildDbSnapshots(), writeDemoCredentials()]);
}

/** Finds every registered sensitive value in every log line under `logDir`. Exported for its own test. */
export function scanForLeaks(logDir: string, secretsFile: string): { lines: number; secrets: number; leaks: string[] } {
  if (!existsSync(logDir)) return { lines: 0, secrets: 0, leaks: [] };
  const secrets = existsSync(secretsFile)
    ? [...new Set(readFileSync(secretsFile, 'utf8').split('\n').filter((s) => s.length >= 4))]
    : [];
  const leaks: string[] = [];
  let lines = 0;
  for (const f of readdirSync(logDir)) {
    for (const line of readFileSync(path.join(logDir, f), 'utf8').split('\n')) {
      if (!line) continue;
      lines++;
      for (const s of secrets) if (line.includes(s)) leaks.push(`${f}: value ending ${s.slice(-2)} in: ${line.replaceAll(s, '<LEAK>').slice(0, 200)}`);
    }
  }
  return { lines, secrets: secrets.length, leaks };
}

/**
 * Every value a test registered as sensitive (test/helpers/secrets.ts) is searched for in every
 * log line the test servers wrote. One hit fails the run.
 */
export function teardown(): void {
  const { lines, secrets, leaks } = scanForLeaks(LOG_DIR, SECRETS_FILE);
  process.stdout.write(`log leak scan: ${lines} log lines checked against ${secrets} sensitive values\n`);
  if (leaks.length > 0) {
    throw new Error(`sensitive values leaked into logs (${leaks.length}):\n${leaks.slice(0, 20).join('\n')}`);
  }
}
