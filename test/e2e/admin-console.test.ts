// End-to-end: the operator console in Chromium — sign in with TOTP, change a quota and see the cardholder API enforce it; work a top-up exception to a refund and see the reconciliation totals balance.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { generateSync } from 'otplib';
import { inTx } from '../../src/db/tx.ts';
import { findCardByNumber, setCardStatus } from '../../src/core/index.ts';
import { ADMIN_DIST_DIR, DEMO_OPERATOR_PASSWORD, demoTotpSecret } from '../../src/admin/index.ts';
import { HOT_STATE_TTL_MS } from '../../src/accounts/index.ts';
import { businessDay, DAY_MS, startOfBusinessDay } from '../../src/risk/policy.ts';
import { registerSensitive } from '../helpers/secrets.ts';
import { openPhone, type Phone } from './browser.ts';
import { startE2EServer, type E2EServer } from './server.ts';

let srv: E2EServer;
let browser: Phone;
let page: Page;

beforeAll(async () => {
  // The e2e global setup builds the console (web/admin/dist) with the H5 app.
  if (!existsSync(`${ADMIN_DIST_DIR}index.html`)) throw new Error('web/admin/dist is missing: the e2e global setup builds it');
  srv = await startE2EServer();
  browser = await openPhone({ viewport: { width: 1400, height: 900 }, mobile: false });
  page = browser.page;
  page.on('pageerror', (e) => process.stderr.write(`[console page error] ${e.message}\n`));
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

async function consoleSignIn(username: string): Promise<void> {
  await page.context().clearCookies();
  await page.goto(`${srv.url}/admin/`);
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(DEMO_OPERATOR_PASSWORD);
  await page.getByLabel('动态码（TOTP）').fill(generateSync({ secret: demoTotpSecret(username) }));
  await page.getByRole('button', { name: '登录' }).click();
  await page.getByRole('button', { name: '退出' }).waitFor();
}

/** A cardholder signed in through the sandbox mini-program with a bound card (the API, not the H5 pages: the console is under test). */
async function cardholder(tenantId: string, name: string): Promise<{ call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>; cardId: string; number: string }> {
  const h = srv.demo.cardholders.find((x) => x.tenantId === tenantId && x.name === name)!;
  const user = await srv.post<{ openid: string }>('/sandbox/api/users', { tenantId });
  const creds = await srv.get<{ miniProgram: { appId: string } }>(`/sandbox/api/tenants/${tenantId}/credentials`);
  const { code } = await srv.post<{ code: string }>(`/sandbox/api/users/${user.openid}/login-code`, { appId: creds.miniProgram.appId });
  const deviceId = `dev_${randomBytes(12).toString('base64url')}`;
  const answer = await fetch(`${srv.url}/api/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-device-id': deviceId }, body: JSON.stringify({ tenantId, code }) });
  const session = (await answer.json()) as { token: string };
  registerSensitive(session.token);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${session.token}`, 'x-device-id': deviceId, ...(body !== undefined ? { 'content-type': 'application/json', 'idempotency-key': `k-${randomBytes(8).toString('hex')}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const card = h.cards[0]!;
  const started = new Date().toISOString();
  const b = await call('POST', '/api/v1/bindings', { cardNumber: card.number, holderName: h.name, idType: h.idType, idNumber: h.idNumber, phone: h.phone });
  expect(b.status, JSON.stringify(b.body)).toBe(201);
  const c = await call('POST', `/api/v1/bindings/${b.body.bindingId}/confirm`, { otp: await srv.lastCode(h.phone, started), paymentPassword: h.paymentPassword });
  expect(c.status, JSON.stringify(c.body)).toBe(201);
  return { call, cardId: c.body.cardId, number: card.number };
}

describe('operator console', () => {
  it('signs in with TOTP, changes the daily quota, and the cardholder API enforces it', async () => {
    // Quotas count per Asia/Shanghai day: a run that would cross 00:00 there (16:00 UTC) waits for
    // the new day first, so all its reads count under one day.
    const untilNextDay = startOfBusinessDay(new Date()).getTime() + DAY_MS - Date.now();
    if (untilNextDay < 60_000) await new Promise((r) => setTimeout(r, untilNextDay + 1_000));
    const day = businessDay(new Date());
    const holder = await cardholder('realtime-bank', '李晓红');
    for (let i = 0; i < 3; i++) expect((await holder.call('GET', `/api/v1/cards/${holder.cardId}/balance`)).status).toBe(200);

    await consoleSignIn('realtime-bank.admin');
    await page.getByText('版本 0').waitFor();
    await page.locator('textarea').fill('{"quotas":{"boundPerUserPerDay":4}}');
    await page.getByRole('button', { name: '预览差异' }).click();
    await page.getByRole('cell', { name: 'quotas.boundPerUserPerDay' }).waitFor();
    await page.getByRole('button', { name: '保存为新版本' }).click();
    await page.getByText('版本 1').waitFor();

    await new Promise((r) => setTimeout(r, HOT_STATE_TTL_MS + 100)); // the per-instance cache bound
    expect((await holder.call('GET', `/api/v1/cards/${holder.cardId}/balance`)).status).toBe(200);
    const over = await holder.call('GET', `/api/v1/cards/${holder.cardId}/balance`);
    expect([over.status, over.body.code, over.body.limit]).toEqual([429, 'quota_exceeded', 4]);
    expect(businessDay(new Date()), 'the reads stayed within one quota day').toBe(day);
  });

  it('works a top-up exception to a refund and shows the reconciliation totals balanced', async () => {
    const tenantId = 'hz-citizen-card';
    const holder = await cardholder(tenantId, '徐静');
    const order = await holder.call('POST', '/api/v1/topups', { citizenCardNumber: holder.number, amount: 10_000, method: 'wechat_balance' });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    const core = (await findCardByNumber(srv.server.ctx.db, srv.server.ctx.crypto, tenantId, holder.number))!;
    await inTx(srv.server.ctx.db, (tx) => setCardStatus(tx, core.id, 'frozen', new Date()));
    await srv.post(`/sandbox/api/pay/orders/${String(order.body.payParams.package).replace(/^prepay_id=/, '')}/pay`, {});
    await inTx(srv.server.ctx.db, (tx) => setCardStatus(tx, core.id, 'active', new Date()));

    await consoleSignIn(`${tenantId}.reviewer`);
    await page.getByRole('tab', { name: '人工复核' }).click();
    const row = page.getByRole('row').filter({ hasText: 'card_unusable' });
    await row.getByRole('button', { name: /^退款/ }).click();
    await expect.poll(async () => (await holder.call('GET', `/api/v1/topups/${order.body.orderId}`)).body.status, { timeout: 30_000, interval: 500 }).toBe('refunded');

    await page.reload();
    await page.getByRole('tab', { name: '对账' }).click();
    await expect.poll(() => page.getByTestId('recon-balanced').textContent()).toBe('平衡');
    const total = Number(order.body.total);
    expect(await page.getByTestId('recon-refunded').textContent()).toBe(`¥${Math.floor(total / 100)}.${String(total % 100).padStart(2, '0')}`);
    const totals = await (await page.request.get(`${srv.url}/admin/api/v1/tenants/${tenantId}/reconciliation/totals?ledger=full`)).json();
    expect(totals).toMatchObject({ refundedFen: String(order.body.total), refundingFen: '0', heldFen: '0', balanced: true, checks: { ledger: true } });
  });
});
