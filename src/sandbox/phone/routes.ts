// Serves the simulated phone at GET /sandbox/ with its script and style: plain files, no build step (sandbox only).
import { readFileSync } from 'node:fs';
import type { ModulePlugin } from '../../app/server.ts';

const ASSETS = new URL('./assets/', import.meta.url);

/** The page runs only its own script and style and talks only to this server. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const FILES = [
  { url: '/sandbox/', file: 'index.html', type: 'text/html; charset=utf-8', summary: 'The simulated phone: chat with a demo tenant’s Official Account' },
  { url: '/sandbox/phone/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { url: '/sandbox/phone/phone.css', file: 'phone.css', type: 'text/css; charset=utf-8' },
] as const;

/** `GET /sandbox/` and its assets. Mounted only with the sandbox on. */
export const phoneRoutes: ModulePlugin = (app, ctx) => {
  if (!ctx.config.sandbox) return;
  for (const f of FILES) {
    // Read once at start: a few KB, and a missing file fails the start, not a request.
    const body = readFileSync(new URL(f.file, ASSETS));
    app.get(
      f.url,
      { schema: { tags: ['sandbox'], ...('summary' in f ? { summary: f.summary } : { hide: true }) } },
      async (_req, reply) =>
        reply
          .type(f.type)
          .header('content-security-policy', CSP)
          .header('x-content-type-options', 'nosniff')
          .header('cache-control', 'no-cache')
          .send(body),
    );
  }
};
