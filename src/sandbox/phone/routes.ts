// Serves the simulated phone at GET /sandbox/ and the WeChat Pay cashier at GET /sandbox/cashier, with their scripts and styles: plain files, no build step (sandbox only).
import { readFileSync } from 'node:fs';
import type { ModulePlugin } from '../../app/server.ts';

const ASSETS = new URL('./assets/', import.meta.url);

/**
 * The pages run only their own scripts and styles and talk only to this server. The phone frames
 * this server's pages (the H5 app, the cashier, WeCom's QR page); the cashier may be framed by it.
 */
const CSP_BASE = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'";
export const PHONE_CSP = `${CSP_BASE}; frame-src 'self'; frame-ancestors 'none'`;
export const CASHIER_CSP = `${CSP_BASE}; frame-ancestors 'self'`;

const FILES = [
  { url: '/sandbox/', file: 'index.html', type: 'text/html; charset=utf-8', csp: PHONE_CSP, summary: 'The simulated phone: a demo tenant’s Official Account chat and menu, its H5 pages in the phone, template messages in the notification tray' },
  { url: '/sandbox/phone/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8', csp: PHONE_CSP },
  { url: '/sandbox/phone/phone.css', file: 'phone.css', type: 'text/css; charset=utf-8', csp: PHONE_CSP },
  { url: '/sandbox/cashier', file: 'cashier.html', type: 'text/html; charset=utf-8', csp: CASHIER_CSP, summary: 'The simulated WeChat Pay cashier: ?prepayId=…&return=/h5/… pays the order, then returns to the H5 page' },
  { url: '/sandbox/phone/cashier.js', file: 'cashier.js', type: 'text/javascript; charset=utf-8', csp: CASHIER_CSP },
  { url: '/sandbox/phone/cashier.css', file: 'cashier.css', type: 'text/css; charset=utf-8', csp: CASHIER_CSP },
] as const;

/** `GET /sandbox/`, `GET /sandbox/cashier` and their assets. Mounted only with the sandbox on. */
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
          .header('content-security-policy', f.csp)
          .header('x-content-type-options', 'nosniff')
          .header('cache-control', 'no-cache')
          .send(body),
    );
  }
};
