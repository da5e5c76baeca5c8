// `npm run bench [-- --write]`: runs every benchmark in bench/ one after another (each in its own process) and fails if one misses its target.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** In order; a script that does not exist yet is skipped with a note. */
const SCRIPTS = ['read.ts', 'bulk.ts', 'oa.ts', 'balance.ts', 'topup.ts', 'load.ts', 'sync.ts'];

let failed = 0;
for (const script of SCRIPTS) {
  const file = path.resolve(import.meta.dirname, script);
  if (!existsSync(file)) {
    process.stdout.write(`\n(skipping bench/${script}: not present)\n`);
    continue;
  }
  process.stdout.write(`\n=== bench/${script}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
if (failed > 0) {
  process.stderr.write(`\n${failed} benchmark(s) missed their target or failed\n`);
  process.exit(1);
}
