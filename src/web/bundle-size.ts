// What a page of the built H5 app loads first (from Vite's manifest) and how many gzip bytes that is: the ≤ 200 KB budget of the balance page.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/** Issue 8: the balance page's first load (JS + CSS) stays within 200 KB gzip; charts load only on the trends page. */
export const BALANCE_PAGE_BUDGET_GZIP_BYTES = 200 * 1024;
export const BALANCE_PAGE_SOURCE = 'src/pages/BalancePage.vue';

interface ManifestChunk {
  file: string;
  src?: string;
  isEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
}
type Manifest = Record<string, ManifestChunk>;

export interface FirstLoad {
  files: { file: string; bytes: number; gzipBytes: number }[];
  gzipBytes: number;
  bytes: number;
}

export function readManifest(distDir: string): Manifest {
  return JSON.parse(readFileSync(path.join(distDir, '.vite', 'manifest.json'), 'utf8')) as Manifest;
}

/**
 * The JS and CSS a browser fetches to show `pageSource` on a fresh load: the entry (index.html)
 * and the page's chunk, each with its static imports and their CSS, counted once. Dynamic
 * imports (other pages, the chart) are not part of it.
 */
export function firstLoad(distDir: string, pageSource: string): FirstLoad {
  const manifest = readManifest(distDir);
  const entryKey = Object.keys(manifest).find((k) => manifest[k]!.isEntry);
  if (!entryKey) throw new Error('the manifest has no entry');
  if (!manifest[pageSource]) throw new Error(`the manifest has no chunk for ${pageSource}`);
  const files = new Set<string>();
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const c = manifest[key];
    if (!c) throw new Error(`manifest import ${key} is missing`);
    files.add(c.file);
    for (const css of c.css ?? []) files.add(css);
    for (const imp of c.imports ?? []) visit(imp);
  };
  visit(entryKey);
  visit(pageSource);
  const list = [...files].sort().map((file) => {
    const body = readFileSync(path.join(distDir, file));
    return { file, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
  });
  return { files: list, bytes: list.reduce((s, f) => s + f.bytes, 0), gzipBytes: list.reduce((s, f) => s + f.gzipBytes, 0) };
}
