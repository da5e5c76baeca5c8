// Registers values (card numbers, ID numbers, phones, names) that must never appear in any log line.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const SECRETS_FILE = path.resolve(process.env.WECARD_TEST_RESULTS ?? 'test-results', 'sensitive-values.txt');

export function registerSensitive(...values: string[]): void {
  mkdirSync(path.dirname(SECRETS_FILE), { recursive: true });
  appendFileSync(SECRETS_FILE, values.filter(Boolean).map((v) => `${v}\n`).join(''));
}
