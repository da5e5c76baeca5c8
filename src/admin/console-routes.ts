// Serves the built operator console (web/admin/dist) under /admin/ with a strict CSP; without a build, /admin/ says how to make one.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { AppError } from '../app/errors.ts';
import type { App } from '../app/server.ts';

/** Where `vite build --config web/admin/vite.config.ts` writes the console; never committed. */
export const ADMIN_DIST_DIR = fileURLToPath(new URL('../../web/admin/dist/', import.meta.url));

/** Scripts and styles from this server only (Element Plus sets style attributes); never framed. */
export const ADMIN_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export async function registerConsolePages(app: App, root = ADMIN_DIST_DIR): Promise<void> {
  if (!existsSync(`${root}index.html`)) {
    app.get('/admin/', { schema: { hide: true } }, async () => {
      throw new AppError('not_ready', 'the operator console is not built: run `npx vite build --config web/admin/vite.config.ts`');
    });
    return;
  }
  // The page itself is answered by its own route: the server ignores trailing slashes, which the
  // static plugin's directory index does not survive. Read once: a rebuild needs a restart.
  const indexHtml = readFileSync(`${root}index.html`);
  const headers = { 'content-security-policy': ADMIN_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin' };
  app.get('/admin/', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').headers({ ...headers, 'cache-control': 'no-cache' }).send(indexHtml),
  );
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, {
      root,
      prefix: '/admin/',
      decorateReply: false,
      index: false,
      setHeaders: (res, filePath) => {
        res.header('content-security-policy', ADMIN_CSP);
        res.header('x-content-type-options', 'nosniff');
        res.header('referrer-policy', 'same-origin');
        res.header('cache-control', filePath.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  });
}
