// bench/RESULTS.md is one file with a section per benchmark; each script replaces only its own section.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import path from 'node:path';

export const RESULTS_FILE = path.resolve(import.meta.dirname, 'RESULTS.md');

const HEADER = `# Benchmark results

Written by \`npm run bench -- --write\` (each script in bench/ replaces its own section). Figures are
only comparable within one run: every measurement sits beside a reference measured in the same run
on the same machine, and the targets are ratios to that reference (or bounds from the issues).
Server, database and load generator share the machine, so absolute figures are low and noisy.
`;

/** "2 × AMD EPYC, 24 GiB, linux 6.x; Node v20.x" */
export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}; Node ${process.version}`;
}

export function today(): string {
  return new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** Replaces (or appends) the section `name` of RESULTS.md with `markdown`. */
export function writeSection(name: string, markdown: string): void {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  let text = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, 'utf8') : HEADER;
  if (!text.startsWith('# Benchmark results')) text = HEADER;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(RESULTS_FILE, text);
}
