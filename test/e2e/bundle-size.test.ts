// The H5 build's budget: the balance page's first load (JS + CSS) within 200 KB gzip, the charts in a chunk only the trends page loads.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BALANCE_PAGE_BUDGET_GZIP_BYTES, BALANCE_PAGE_SOURCE, firstLoad, readManifest } from '../../src/web/bundle-size.ts';
import { H5_DIST_DIR } from '../../src/web/index.ts';

describe('the built H5 app', () => {
  it('loads the balance page with at most 200 KB of gzip JS and CSS', () => {
    const r = firstLoad(H5_DIST_DIR, BALANCE_PAGE_SOURCE);
    process.stdout.write(`balance page first load: ${r.files.length} files, ${r.bytes} bytes, ${r.gzipBytes} gzip (budget ${BALANCE_PAGE_BUDGET_GZIP_BYTES})\n`);
    expect(r.gzipBytes).toBeLessThanOrEqual(BALANCE_PAGE_BUDGET_GZIP_BYTES);
  });

  it('keeps ECharts out of the balance page: it is in the trends chart chunk, loaded on demand', () => {
    const r = firstLoad(H5_DIST_DIR, BALANCE_PAGE_SOURCE);
    for (const f of r.files) {
      expect(readFileSync(path.join(H5_DIST_DIR, f.file), 'utf8'), f.file).not.toMatch(/echarts|ZRender|zrender/);
    }
    const manifest = readManifest(H5_DIST_DIR);
    const chart = manifest['src/components/TrendsChart.vue'];
    expect(chart, 'the chart is its own chunk').toBeDefined();
    expect(manifest['src/pages/TrendsPage.vue']!.dynamicImports).toContain('src/components/TrendsChart.vue');
  });

  it('references no third-party origin in its CSS or JS (the pages never reach outside the server)', () => {
    const manifest = readManifest(H5_DIST_DIR);
    const files = new Set(Object.values(manifest).flatMap((c) => [c.file, ...(c.css ?? [])]));
    for (const f of files) {
      const text = readFileSync(path.join(H5_DIST_DIR, f), 'utf8');
      expect(text, f).not.toMatch(/url\(\s*["']?(?:https?:)?\/\/(?!www\.w3\.org)/);
    }
  });
});
