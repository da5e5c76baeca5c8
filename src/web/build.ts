// Builds the H5 app with Vite when its inputs changed since the last build, and writes .br/.gz beside each asset for the static server.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const H5_SOURCE_DIR = path.join(REPO_ROOT, 'web', 'h5');
export const H5_VITE_CONFIG = path.join(H5_SOURCE_DIR, 'vite.config.ts');
const DIST_DIR = path.join(H5_SOURCE_DIR, 'dist');
/** The hash of the inputs the current dist/ was built from. */
export const BUILD_HASH_FILE = path.join(DIST_DIR, '.build-hash');
/** Server-side modules the app imports so its field checks are the server's own. */
const SHARED_INPUTS = ['src/shared/card-number.ts', 'src/shared/bins.ts', 'src/shared/mask.ts', 'src/shared/id-document.ts'];
/** Bounds on the walk over web/h5 (a stray node_modules or data folder must not make it crawl). */
const MAX_INPUT_FILES = 2_000;
const MAX_INPUT_BYTES = 32 * 1024 * 1024;
/** Files worth precompressing (images and fonts are compressed already). */
const COMPRESSIBLE = /\.(?:js|mjs|css|html|svg|json|txt|map)$/;
/** Below this, compression costs more than it saves. */
const COMPRESS_MIN_BYTES = 512;

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile()) out.push(full);
    if (out.length > MAX_INPUT_FILES) throw new Error(`web/h5 holds more than ${MAX_INPUT_FILES} files; is a build folder inside it?`);
  }
}

/** A hash over every input of the build: the app's sources, the shared modules it imports, and the locked dependency versions. */
export function h5InputHash(): string {
  const files: string[] = [];
  walk(H5_SOURCE_DIR, files);
  files.push(...SHARED_INPUTS.map((f) => path.join(REPO_ROOT, f)), path.join(REPO_ROOT, 'package-lock.json'));
  files.sort();
  const h = createHash('sha256');
  let bytes = 0;
  for (const f of files) {
    if (!existsSync(f)) continue;
    const body = readFileSync(f);
    bytes += body.length;
    if (bytes > MAX_INPUT_BYTES) throw new Error(`the H5 inputs exceed ${MAX_INPUT_BYTES} bytes`);
    h.update(path.relative(REPO_ROOT, f)).update('\0').update(body).update('\0');
  }
  return h.digest('hex');
}

/** True when dist/ was built from exactly the current inputs. */
export function h5BuildIsCurrent(hash = h5InputHash()): boolean {
  return existsSync(BUILD_HASH_FILE) && existsSync(path.join(DIST_DIR, 'index.html')) && readFileSync(BUILD_HASH_FILE, 'utf8').trim() === hash;
}

function precompress(dir: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      n += precompress(full);
      continue;
    }
    if (!COMPRESSIBLE.test(entry.name) || statSync(full).size < COMPRESS_MIN_BYTES) continue;
    const body = readFileSync(full);
    writeFileSync(`${full}.gz`, gzipSync(body, { level: 9 }));
    writeFileSync(`${full}.br`, brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } }));
    n++;
  }
  return n;
}

export interface BuildResult {
  built: boolean;
  hash: string;
  ms: number;
}

/**
 * Runs `vite build` for web/h5 unless dist/ is current (or `force`), then precompresses the
 * output and records the input hash. Vite is loaded only when a build is needed.
 */
export async function buildH5(opts: { force?: boolean; quiet?: boolean } = {}): Promise<BuildResult> {
  const started = Date.now();
  const hash = h5InputHash();
  if (!opts.force && h5BuildIsCurrent(hash)) return { built: false, hash, ms: Date.now() - started };
  const { build } = await import('vite');
  await build({ configFile: H5_VITE_CONFIG, root: H5_SOURCE_DIR, logLevel: opts.quiet ? 'warn' : 'info', mode: 'production' });
  precompress(path.join(DIST_DIR));
  writeFileSync(BUILD_HASH_FILE, `${hash}\n`);
  return { built: true, hash, ms: Date.now() - started };
}
