// The simulated phone and cashier pages over HTTP: they load, their assets and the endpoints their scripts call exist, form fields are labelled, they are sandbox-only.
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../helpers/app.ts';
import { demoRoutes } from '../../../../src/sandbox/demo/index.ts';
import { sandboxWxRoutes } from '../../../../src/sandbox/wx/index.ts';
import { sandboxOaRoutes } from '../../../../src/sandbox/oa/index.ts';
import { phoneRoutes } from '../../../../src/sandbox/phone/index.ts';
import { sandboxPayRoutes } from '../../../../src/sandbox/pay/index.ts';

const STARTUP_TIMEOUT_MS = 60_000;
const MODULES = [demoRoutes, sandboxWxRoutes, sandboxOaRoutes, sandboxPayRoutes, phoneRoutes];
let t: TestApp;
let html: string;

beforeAll(async () => {
  t = await startTestApp({ modules: MODULES });
  html = (await t.app.inject({ url: '/sandbox/' })).body;
}, STARTUP_TIMEOUT_MS);
afterAll(async () => {
  await t?.close();
});

const attrs = (name: string) => [...html.matchAll(new RegExp(`\\s${name}="([^"]*)"`, 'g'))].map((m) => m[1]!);

describe('the simulated phone page', () => {
  it('is served as zh-CN HTML with a strict content security policy', async () => {
    const r = await t.app.inject({ url: '/sandbox/' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(html).toMatch(/^<!doctype html>\s*<html lang="zh-CN">/);
    // No inline script or handler, which the policy would block anyway.
    expect(html).not.toMatch(/<script>|\son[a-z]+="/);
  });

  it('references only assets that load with the right type', async () => {
    const refs = [...attrs('src'), ...attrs('href')].filter((u) => !u.startsWith('#'));
    expect(refs.sort()).toEqual(['/sandbox/phone/app.js', '/sandbox/phone/phone.css']);
    const js = await t.app.inject({ url: '/sandbox/phone/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    const css = await t.app.inject({ url: '/sandbox/phone/phone.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    // The script at least compiles.
    expect(() => new Script(js.body)).not.toThrow();
  });

  it('calls only sandbox endpoints that exist, with the methods it uses', async () => {
    const js = (await t.app.inject({ url: '/sandbox/phone/app.js' })).body;
    const table = /const API = \{([\s\S]*?)\};/.exec(js)![1]!;
    const api = Object.fromEntries([...table.matchAll(/(\w+): '([^']+)'/g)].map((m) => [m[1]!, m[2]!]));
    const methods: Record<string, 'GET' | 'POST'> = { demo: 'GET', users: 'POST', oaMessages: 'POST', oaMenu: 'GET', customMessages: 'GET', templateMessages: 'GET' };
    expect(Object.keys(api).sort()).toEqual(Object.keys(methods).sort());
    for (const [name, path] of Object.entries(api)) {
      expect(t.app.hasRoute({ method: methods[name]!, url: path.replace(/\{(\w+)\}/g, ':$1') }), `${methods[name]} ${path}`).toBe(true);
      expect(js).toContain(`API.${name}`);
    }
  });

  it('labels every form field and marks the chat as a live log', () => {
    const ids = [...html.matchAll(/<(?:input|select)\b[^>]*\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(ids.sort()).toEqual(['cardholder', 'tenant', 'text']);
    for (const id of ids) expect(html).toContain(`<label for="${id}"`);
    expect(html).toMatch(/id="messages"[^>]*role="log"[^>]*aria-live="polite"/);
    expect(html).toMatch(/<nav id="menu"[^>]*aria-label="公众号菜单"/);
    expect(html).toContain('role="status"');
  });

  it('may frame this server’s pages (the H5 app, the cashier) but is framed by nothing', async () => {
    const csp = (await t.app.inject({ url: '/sandbox/' })).headers['content-security-policy'] as string;
    expect(csp).toContain("frame-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(html).toMatch(/<iframe id="webview-frame"[^>]*title="[^"]+"/);
  });

  it('serves the Pay cashier, which calls only sandbox Pay endpoints that exist and may be framed by the phone', async () => {
    const page = await t.app.inject({ url: '/sandbox/cashier?prepayId=wx1&return=/h5/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(page.body).not.toMatch(/<script>|\son[a-z]+="/);
    for (const id of [...page.body.matchAll(/<input\b[^>]*\sid="([^"]+)"/g)].map((m) => m[1]!)) expect(page.body).toContain(`<label for="${id}"`);
    const js = await t.app.inject({ url: '/sandbox/phone/cashier.js' });
    expect(js.statusCode).toBe(200);
    expect(() => new Script(js.body)).not.toThrow();
    expect((await t.app.inject({ url: '/sandbox/phone/cashier.css' })).statusCode).toBe(200);
    const table = /const API = \{([\s\S]*?)\};/.exec(js.body)![1]!;
    const api = Object.fromEntries([...table.matchAll(/(\w+): '([^']+)'/g)].map((m) => [m[1]!, m[2]!]));
    const methods: Record<string, 'GET' | 'POST'> = { order: 'GET', pay: 'POST' };
    expect(Object.keys(api).sort()).toEqual(Object.keys(methods).sort());
    for (const [name, path] of Object.entries(api)) {
      expect(t.app.hasRoute({ method: methods[name]!, url: path.replace(/\{(\w+)\}/g, ':$1') }), `${methods[name]} ${path}`).toBe(true);
    }
    // It returns only to the H5 app's pages: never an open redirect.
    expect(js.body).toContain('RETURN_PATH = /^\\/h5\\/');
  });

  it('does not exist without the sandbox', async () => {
    const off = await startTestApp({ modules: MODULES, config: { SANDBOX: 'false' } });
    try {
      expect((await off.app.inject({ url: '/sandbox/' })).statusCode).toBe(404);
      expect((await off.app.inject({ url: '/sandbox/phone/app.js' })).statusCode).toBe(404);
      expect((await off.app.inject({ url: '/sandbox/cashier' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  }, STARTUP_TIMEOUT_MS);
});
