// The web module over HTTP: the H5 pages' caching, precompression and SPA fallback, the pages' settings route (top-up limits included) and the spoken amounts.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { seedDemo } from '../../src/sandbox/demo/index.ts';
import { getTenant, TOPUP_METHODS } from '../../src/tenants/index.ts';
import { h5Csp, IMMUTABLE_CACHE, PRIVACY_NOTICE_VERSION, REVALIDATE_CACHE, webModule } from '../../src/web/index.ts';
import { testDemoCredentials } from '../helpers/demo-credentials.ts';

const ASSET = 'assets/index-AbC123xy.js';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(2000))});`;

let dist: string;
let app: TestApp;

beforeAll(async () => {
  dist = mkdtempSync(path.join(tmpdir(), 'wecard-h5-dist-'));
  mkdirSync(path.join(dist, 'assets'));
  mkdirSync(path.join(dist, '.vite'));
  writeFileSync(path.join(dist, 'index.html'), `<!doctype html><html><head><script type="module" src="/h5/${ASSET}"></script></head><body><div id="app"></div></body></html>`);
  writeFileSync(path.join(dist, ASSET), SCRIPT);
  writeFileSync(path.join(dist, `${ASSET}.gz`), gzipSync(SCRIPT));
  writeFileSync(path.join(dist, `${ASSET}.br`), brotliCompressSync(SCRIPT));
  writeFileSync(path.join(dist, '.vite', 'manifest.json'), '{}');
  app = await startTestApp({ modules: [webModule({ root: dist })] });
  await seedDemo(app.ctx, { credentials: testDemoCredentials });
});

afterAll(async () => {
  await app?.close();
  rmSync(dist, { recursive: true, force: true });
});

describe('the H5 pages', () => {
  it('answers the app page for /h5/ and any client route, revalidated every time and under the CSP', async () => {
    for (const url of ['/h5', '/h5/', '/h5/cards/card_1/balance', '/h5/bind?tenant=abc-demo', '/h5/auth/callback?code=x&state=y']) {
      const r = await app.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['cache-control']).toBe(REVALIDATE_CACHE);
      // Images also from where WeCom serves contact-way QR codes (the configured origins).
      expect(r.headers['content-security-policy']).toBe(h5Csp(app.ctx.config.wechat.wecomQrImageOrigins));
      expect(r.body).toContain('<div id="app">');
    }
  });

  it('serves hashed assets as immutable, brotli or gzip as the client accepts, and says it varies', async () => {
    const br = await app.app.inject({ method: 'GET', url: `/h5/${ASSET}`, headers: { 'accept-encoding': 'gzip, br' } });
    expect(br.statusCode).toBe(200);
    expect(br.headers['cache-control']).toBe(IMMUTABLE_CACHE);
    expect(br.headers['content-encoding']).toBe('br');
    expect(String(br.headers.vary)).toMatch(/accept-encoding/i);
    expect(br.headers['content-type']).toMatch(/javascript/);
    const gz = await app.app.inject({ method: 'GET', url: `/h5/${ASSET}`, headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const plain = await app.app.inject({ method: 'GET', url: `/h5/${ASSET}`, headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(SCRIPT);
  });

  it('answers 404 for a missing asset, a path with an extension, the build manifest and escapes, never the app page', async () => {
    for (const url of ['/h5/assets/index-missing.js', '/h5/logo.png', '/h5/.vite/manifest.json', '/h5/..%2f..%2fpackage.json', '/h5/assets/../index.html.gz']) {
      const r = await app.app.inject({ method: 'GET', url });
      expect([403, 404], url).toContain(r.statusCode);
      expect(r.body, url).not.toContain('<div id="app">');
    }
  });

  it('says how to build the app when it is not built, and the server still starts', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'wecard-h5-none-'));
    const bare = await startTestApp({ modules: [webModule({ root: empty })], db: app.db });
    try {
      const r = await bare.app.inject({ method: 'GET', url: '/h5/cards' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ code: 'not_ready' });
      expect(r.json().detail).toContain('npm run build:web');
    } finally {
      await bare.app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the pages settings route', () => {
  it("gives a tenant's name, OA appId, web-auth page, statement window and notice version", async () => {
    const r = await app.app.inject({ method: 'GET', url: '/api/v1/h5/config?tenantId=abc-demo' });
    expect(r.statusCode).toBe(200);
    const c = r.json();
    expect(c).toMatchObject({
      sandbox: true,
      privacyNoticeVersion: PRIVACY_NOTICE_VERSION,
      tenant: { id: 'abc-demo', kind: 'bank', statements: { maxMonths: 12, mode: 'paged' }, noBind: { enabled: true } },
      tenants: [],
    });
    expect(c.tenant.oaAppId).toMatch(/^wx[0-9a-f]{16}$/);
    expect(c.oauthAuthorizeUrl).toBe(`${app.ctx.config.wechat.openBase}/connect/oauth2/authorize`);
    expect(c.idTypes).toContain('hk_macao_travel_permit');
  });

  it("gives a citizen-card tenant's enabled top-up methods with the limits and fees its policy sets, and a bank none", async () => {
    const bank = (await app.app.inject({ method: 'GET', url: '/api/v1/h5/config?tenantId=abc-demo' })).json();
    expect(bank.tenant.topup).toEqual({ methods: [] });
    const c = (await app.app.inject({ method: 'GET', url: '/api/v1/h5/config?tenantId=hz-citizen-card' })).json();
    const policy = (await getTenant(app.ctx.db, 'hz-citizen-card'))!.policy.topup.methods;
    const enabled = TOPUP_METHODS.filter((m) => policy[m].enabled);
    expect(enabled.length).toBeGreaterThan(0);
    expect(c.tenant.topup.methods).toEqual(enabled.map((m) => ({ method: m, minFen: Number(policy[m].minFen), maxFen: Number(policy[m].maxFen), fee: policy[m].fee })));
  });

  it('lists the tenants to pick from only in the sandbox and without a tenant; an unknown tenant is 404', async () => {
    const all = (await app.app.inject({ method: 'GET', url: '/api/v1/h5/config' })).json();
    expect(all.tenant).toBeNull();
    expect(all.tenants.map((t: { id: string }) => t.id)).toContain('hz-citizen-card');
    expect((await app.app.inject({ method: 'GET', url: '/api/v1/h5/config?tenantId=nope' })).json()).toMatchObject({ code: 'not_found' });
    expect((await app.app.inject({ method: 'GET', url: '/api/v1/h5/config?tenantId=Bad_Id' })).statusCode).toBe(400);
  });
});

describe('the spoken amounts route', () => {
  it('reads fen as Chinese money words, spoken and in 大写', async () => {
    const r = await app.app.inject({ method: 'GET', url: '/api/v1/speech/money?amount=123456&currency=CNY' });
    expect(r.json()).toEqual({ amount: '123456', currency: 'CNY', text: '一千二百三十四元五角六分', upper: '壹仟贰佰叁拾肆元伍角陆分' });
    expect((await app.app.inject({ method: 'GET', url: '/api/v1/speech/money?amount=105' })).json().text).toBe('一元零五分');
    expect((await app.app.inject({ method: 'GET', url: '/api/v1/speech/money?amount=-2500&currency=USD' })).json()).toMatchObject({ text: '负二十五美元', upper: null });
  });

  it('refuses what is not an amount with a field error', async () => {
    for (const q of ['amount=12.5', 'amount=1e5', 'amount=99999999999999999', 'amount=', 'amount=1&currency=usd']) {
      const r = await app.app.inject({ method: 'GET', url: `/api/v1/speech/money?${q}` });
      expect(r.statusCode, q).toBe(400);
      expect(r.json().code).toBe('validation_failed');
    }
  });
});
