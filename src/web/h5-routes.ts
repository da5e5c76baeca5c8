// Serves the built cardholder H5 app under /h5/: hashed assets cached for good, index.html revalidated, SPA fallback for client routes.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { ModulePlugin } from '../app/server.ts';
import { AppError } from '../app/errors.ts';

export const H5_PREFIX = '/h5/';
/** Where `npm run build:web` (and the prestart step) writes the app; never committed. */
export const H5_DIST_DIR = fileURLToPath(new URL('../../web/h5/dist/', import.meta.url));
/** Vite names every file under assets/ by its content hash: a changed file is a new URL. */
const HASHED_DIR = 'assets';
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
/** index.html names the current hashed files, so a client must revalidate it every time. */
export const REVALIDATE_CACHE = 'no-cache';
/** The app page is rendered once at start; a page larger than this is a build gone wrong. */
const INDEX_HTML_MAX_BYTES = 64 * 1024;
/** Client routes are short paths of plain segments; anything else is not the app's. */
const CLIENT_ROUTE = /^[A-Za-z0-9/_-]{0,200}$/;

/**
 * The app talks only to this server; the OA web-auth page is reached by navigation (not
 * restricted by CSP). Styles allow 'unsafe-inline' because Vant sets style attributes; scripts
 * never run inline. `frame-ancestors 'self'` lets the sandbox's phone frame embed the pages.
 * Images may also come from `imageOrigins`: where WeCom serves the contact-way QR code a bill's
 * "contact us" shows (config WECOM_QR_IMAGE_ORIGINS).
 */
export function h5Csp(imageOrigins: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    ['img-src', "'self'", 'data:', 'blob:', ...imageOrigins].join(' '),
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self'",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; ');
}

function sendIndex(reply: FastifyReply, html: Buffer, csp: string) {
  return reply
    .type('text/html; charset=utf-8')
    .header('cache-control', REVALIDATE_CACHE)
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .send(html);
}

export interface H5RoutesOptions {
  /** The built app (default H5_DIST_DIR). */
  root?: string;
}

/**
 * `GET /h5/…`: the built files, precompressed (.br/.gz beside each) when the client accepts it,
 * and index.html for any other path without a file extension so deep links into the app work.
 * Without a build the pages answer 503 not_ready saying how to build, and the server still starts.
 */
export function h5Routes(opts: H5RoutesOptions = {}): ModulePlugin {
  return async (app, ctx) => {
    const root = opts.root ?? H5_DIST_DIR;
    const csp = h5Csp(ctx.config.wechat.wecomQrImageOrigins);
    const indexFile = path.join(root, 'index.html');
    if (!existsSync(indexFile)) {
      const notBuilt = async () => {
        throw new AppError('not_ready', 'the H5 app is not built: run `npm run build:web` (npm start does it)');
      };
      app.get('/h5/', { schema: { hide: true } }, notBuilt);
      app.get('/h5/*', { schema: { hide: true } }, notBuilt);
      return;
    }
    const html = readFileSync(indexFile);
    if (html.length > INDEX_HTML_MAX_BYTES) throw new Error(`${indexFile} is larger than ${INDEX_HTML_MAX_BYTES} bytes`);

    // Encapsulated: the static plugin's reply decorators stay inside this context.
    await app.register(async (h5) => {
      await h5.register(fastifyStatic, {
        root,
        prefix: H5_PREFIX,
        // One route per built file (known at start); every other path falls to the handler below.
        wildcard: false,
        index: false,
        preCompressed: true,
        cacheControl: false,
        etag: true,
        lastModified: false,
        serveDotFiles: false,
        globIgnore: ['**/*.gz', '**/*.br', 'index.html', '.*'],
        setHeaders: (reply, filePath) => {
          const rel = path.relative(root, filePath).split(path.sep);
          reply.header('cache-control', rel[0] === HASHED_DIR ? IMMUTABLE_CACHE : REVALIDATE_CACHE);
          reply.header('x-content-type-options', 'nosniff');
        },
        schemaHide: true,
      });

      // The server ignores trailing slashes: this is /h5 as well.
      h5.get('/h5/', { schema: { hide: true } }, async (_req, reply) => sendIndex(reply, html, csp));
      h5.get('/h5/*', { schema: { hide: true } }, async (req, reply) => {
        const rest = (req.params as { '*': string })['*'];
        // A missing hashed file or anything with an extension is a real 404, not the app.
        if (rest.startsWith(`${HASHED_DIR}/`) || !CLIENT_ROUTE.test(rest)) throw new AppError('not_found', 'no such file');
        return sendIndex(reply, html, csp);
      });
    });
  };
}
