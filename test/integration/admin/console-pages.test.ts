// The console's pages under /admin/: built files with a strict CSP and long-lived hashed assets, the API beside them untouched, and a clear 503 without a build.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { registerProblemHandling } from '../../../src/app/problem-plugin.ts';
import type { App } from '../../../src/app/server.ts';
import { ADMIN_CSP } from '../../../src/admin/index.ts';
import { registerConsolePages } from '../../../src/admin/console-routes.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'wecard-admin-dist-'));
mkdirSync(path.join(dir, 'assets'));
writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="app"></div><script type="module" src="/admin/assets/index-abc.js"></script>');
writeFileSync(path.join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function appWith(root: string): Promise<App> {
  // As the server is built (src/app/server.ts): trailing slashes ignored.
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } }) as unknown as App;
  registerProblemHandling(app);
  app.get('/admin/api/v1/ping', async () => ({ ok: true }));
  await registerConsolePages(app, `${root}${path.sep}`);
  await app.ready();
  return app;
}

describe('console pages', () => {
  it('serves the built console with a strict CSP, hashed assets cached for good, and leaves the API routes alone', async () => {
    const app = await appWith(dir);
    const page = await app.inject({ method: 'GET', url: '/admin/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="app">');
    expect(page.headers['content-security-policy']).toBe(ADMIN_CSP);
    expect(ADMIN_CSP).toContain("frame-ancestors 'none'");
    expect(page.headers['cache-control']).toBe('no-cache');
    expect((await app.inject({ method: 'GET', url: '/admin' })).body).toBe(page.body);
    const asset = await app.inject({ method: 'GET', url: '/admin/assets/index-abc.js' });
    expect([asset.statusCode, asset.headers['cache-control']]).toEqual([200, 'public, max-age=31536000, immutable']);
    expect((await app.inject({ method: 'GET', url: '/admin/api/v1/ping' })).json()).toEqual({ ok: true });
    expect((await app.inject({ method: 'GET', url: '/admin/../package.json' })).statusCode).toBe(404);
    await app.close();
  });

  it('answers 503 not_ready with the build command when the console is not built', async () => {
    const app = await appWith(path.join(dir, 'missing'));
    const r = await app.inject({ method: 'GET', url: '/admin/' });
    expect([r.statusCode, r.json().code]).toEqual([503, 'not_ready']);
    expect(r.json().detail).toContain('web/admin/vite.config.ts');
    await app.close();
  });
});
