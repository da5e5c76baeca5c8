// Steps the e2e flows share: find a demo cardholder, sign in through the sandbox's OA web authorisation, bind a card, wait for a balance through its dialogs.
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { registerSensitive } from '../helpers/secrets.ts';
import { checkPage, type Mode } from './checks.ts';
import type { E2EServer } from './server.ts';

export type Holder = E2EServer['demo']['cardholders'][number];

export function demoHolder(srv: E2EServer, tenantId: string, name: string): Holder {
  const h = srv.demo.cardholders.find((x) => x.tenantId === tenantId && x.name === name);
  if (!h) throw new Error(`no demo cardholder ${name} at ${tenantId}`);
  return h;
}

/** `¥12,345.67` → 1234567 (fen). */
export function fenOf(display: string): bigint {
  const m = /(-?)¥([\d,]+)\.(\d{2})/.exec(display);
  if (!m) throw new Error(`not an amount: ${display}`);
  return BigInt(`${m[1]}${m[2]!.replaceAll(',', '')}${m[3]}`);
}

export async function confirmDialog(page: Page): Promise<void> {
  await page.locator('.van-dialog:visible .van-dialog__confirm').click();
}

/**
 * Waits for the balance page to show the balance, answering the step-up dialog on the way when it
 * opens (the captcha, solved by the page itself, may come first). `check` names a screenshot of
 * the open dialog. True if a step-up was asked.
 */
export async function balanceShown(page: Page, h: Holder, check?: { mode: Mode; name: string }): Promise<boolean> {
  const dialog = page.getByTestId('dialog-step-up');
  let asked = false;
  for (let round = 0; round < 3; round++) {
    await page.locator('[data-testid=available], [data-testid=dialog-step-up]').first().waitFor({ timeout: 45_000 });
    if (!(await dialog.isVisible())) return asked;
    asked = true;
    await page.locator('input[name=stepUpAnswer]').fill(h.paymentPassword.slice(-4));
    if (check && round === 0) await checkPage(page, check.mode, check.name);
    await confirmDialog(page);
    await dialog.waitFor({ state: 'detached' });
  }
  throw new Error('the balance did not show after three step-ups');
}

/** A new simulated WeChat user of `tenantId` signs in to the H5 app through the sandbox's web-authorisation page; answers the user's openid. */
export async function signIn(page: Page, srv: E2EServer, tenantId: string, opts: { phone?: string; check?: { mode: Mode; name: string } } = {}): Promise<string> {
  const user = await srv.post<{ openid: string }>('/sandbox/api/users', opts.phone ? { tenantId, phone: opts.phone } : { tenantId });
  await page.goto(`${srv.url}/h5/?tenant=${tenantId}`);
  await page.getByTestId('signin-button').waitFor();
  if (opts.check) await checkPage(page, opts.check.mode, opts.check.name);
  await page.getByTestId('signin-button').click();
  await page.waitForURL(/\/sandbox\/open\/connect\/oauth2\/authorize/);
  await page.locator(`a[href*="sandbox_openid=${user.openid}"]`).click();
  await page.waitForURL((u) => u.pathname === '/h5/');
  const token = await page.evaluate(`sessionStorage.getItem('wecard.session.${tenantId}')`);
  expect(token, 'a session is kept for this tab').toBeTruthy();
  registerSensitive(JSON.parse(String(token)).token);
  await page.getByTestId('bind-card').waitFor();
  return user.openid;
}

/** Turns elderly mode on in the me page (saved on the server for the user). */
export async function turnOnElderlyMode(page: Page, srv: E2EServer): Promise<void> {
  await page.goto(`${srv.url}/h5/me`);
  await page.getByTestId('switch-elderly').click();
  await page.locator('html.elderly').waitFor({ state: 'attached' });
}

/**
 * Binds `cardNumber` of `h` with the texted code and the payment password; ends on the card's
 * balance page and answers its card id. `names` name screenshots of the form and the code step.
 */
export async function bindCard(page: Page, srv: E2EServer, h: Holder, cardNumber: string, check?: { mode: Mode; form: string; otp: string }): Promise<string> {
  await page.goto(`${srv.url}/h5/bind`);
  await page.locator('input[name=cardNumber]').fill(cardNumber);
  await page.locator('input[name=holderName]').fill(h.name);
  await page.locator('select[name=idType]').selectOption(h.idType);
  await page.locator('input[name=idNumber]').fill(h.idNumber);
  await page.locator('input[name=phone]').fill(h.phone);
  if (check) await checkPage(page, check.mode, check.form);
  const since = new Date(Date.now() - 1_000).toISOString();
  await page.getByTestId('bind-submit').click();
  await page.locator('input[name=otp]').waitFor();
  await page.locator('input[name=otp]').fill(await srv.lastCode(h.phone, since));
  await page.locator('input[name=paymentPassword]').fill(h.paymentPassword);
  if (check) await checkPage(page, check.mode, check.otp);
  await page.getByTestId('bind-confirm').click();
  await page.waitForURL(/\/h5\/cards\/[^/]+\/balance$/);
  return /\/cards\/([^/]+)\/balance/.exec(page.url())![1]!;
}
