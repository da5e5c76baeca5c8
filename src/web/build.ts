// Builds the H5 app with Vite when its inputs changed since the last build, and writes .br/.gz beside each asset for the static server.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A Vite app under web/ that the server serves from its dist/ folder. */
export interface WebApp {
  /** Folder under web/ (also its name in messages). */
  name: string;
  sourceDir: string;
  viteConfig: string;
  distDir: string;
  /** The hash of the inputs the current dist/ was built from. */
  hashFile: string;
  /** Files outside sourceDir the app imports. */
  sharedInputs: string[];
}

function webApp(name: string, sharedInputs: string[]): WebApp {
  const sourceDir = path.join(REPO_ROOT, 'web', name);
  const distDir = path.join(sourceDir, 'dist');
  return { name, sourceDir, viteConfig: path.join(sourceDir, 'vite.config.ts'), distDir, hashFile: path.join(distDir, '.build-hash'), sharedInputs };
}

/** The cardholder H5 app; it imports server-side modules so its field checks are the server's own. */
export const H5_APP = webApp('h5', ['src/shared/card-number.ts', 'src/shared/bins.ts', 'src/shared/mask.ts', 'src/shared/id-document.ts']);
/** The operator console. */
export const ADMIN_APP = webApp('admin', []);
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
    if (out.length > MAX_INPUT_FILES) throw new Error(`${dir} holds more than ${MAX_INPUT_FILES} files; is a build folder inside it?`);
  }
}

/** A hash over every input of the build: the app's sources, the shared modules it imports, and the locked dependency versions. */
export function inputHash(app: WebApp = H5_APP): string {
  const files: string[] = [];
  walk(app.sourceDir, files);
  files.push(...app.sharedInputs.map((f) => path.join(REPO_ROOT, f)), path.join(REPO_ROOT, 'package-lock.json'));
  files.sort();
  const h = createHash('sha256');
  let bytes = 0;
  for (const f of files) {
    if (!existsSync(f)) continue;
    const body = readFileSync(f);
    bytes += body.length;
    if (bytes > MAX_INPUT_BYTES) throw new Error(`the ${app.name} inputs exceed ${MAX_INPUT_BYTES} bytes`);
    h.update(path.relative(REPO_ROOT, f)).update('\0').update(body).update('\0');
  }
  return h.digest('hex');
}

/** True when dist/ was built from exactly the current inputs. */
export function buildIsCurrent(app: WebApp = H5_APP, hash = inputHash(app)): boolean {
  return existsSync(app.hashFile) && existsSync(path.join(app.distDir, 'index.html')) && readFileSync(app.hashFile, 'utf8').trim() === hash;
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
 * Runs `vite build` for a web app unless its dist/ is current (or `force`), then precompresses
 * the output and records the input hash. Vite is loaded only when a build is needed.
 */
export async function buildApp(app: WebApp, opts: { force?: boolean; quiet?: boolean } = {}): Promise<BuildResult> {
  const started = Date.now();
  const hash = inputHash(app);
  if (!opts.force && buildIsCurrent(app, hash)) return { built: false, hash, ms: Date.now() - started };
  const { build } = await import('vite');
  await build({ configFile: app.viteConfig, root: app.sourceDir, logLevel: opts.quiet ? 'warn' : 'info', mode: 'production' });
  precompress(app.distDir);
  writeFileSync(app.hashFile, `${hash}\n`);
  return { built: true, hash, ms: Date.now() - started };
}

