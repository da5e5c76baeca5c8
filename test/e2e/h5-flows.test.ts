// End-to-end: the cardholder H5 app in Debian's Chromium at 375×667, against the real server with its sandbox, in normal and elderly mode.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { fenToSpokenChinese } from '../../src/shared/money.ts';
import { registerSensitive } from '../helpers/secrets.ts';
import { openPhone, type Phone } from './browser.ts';
import { checkPage, settle } from './checks.ts';
import { startE2EServer, type E2EServer } from './server.ts';
import { balanceShown, confirmDialog, fenOf } from './steps.ts';

const TENANT = 'abc-demo';
/** The demo sheet's salaried customer (normal mode) and its customer above ¥500,000 (elderly mode: a step-up on every balance). */
const HOLDERS = { normal: '张伟明', elderly: '王建国' } as const;
/** Another demo customer whose card the no-bind quick balance reads. */
const QUICK_HOLDER = '陈家豪';

let srv: E2EServer;

beforeAll(async () => {
  srv = await startE2EServer();
});
afterAll(async () => {
  await srv?.close();
});

type Holder = E2EServer['demo']['cardholders'][number];
function holder(name: string): Holder {
  const h = srv.demo.cardholders.find((x) => x.tenantId === TENANT && x.name === name);
  if (!h) throw new Error(`no demo cardholder ${name} at ${TENANT}`);
  return h;
}

for (const mode of ['normal', 'elderly'] as const) {
  describe(`the H5 app in ${mode} mode`, () => {
    let phone: Phone;
    let page: Page;
    let h: Holder;
    let cardId = '';

    beforeAll(async () => {
      h = holder(HOLDERS[mode]);
      phone = await openPhone();
      page = phone.page;
      page.on('pageerror', (e) => process.stderr.write(`[${mode} page error] ${e.message}\n`));
    });
    afterAll(async () => {
      await phone?.close();
    });

    it('signs in through the sandbox OA web-authorisation page', async () => {
      const user = await srv.post<{ openid: string }>('/sandbox/api/users', { tenantId: TENANT });
      await page.goto(`${srv.url}/h5/?tenant=${TENANT}`);
      await page.getByTestId('signin-button').waitFor();
      await checkPage(page, mode, '01-signin');
      await page.getByTestId('signin-button').click();
      await page.waitForURL(/\/sandbox\/open\/connect\/oauth2\/authorize/);
      await page.locator(`a[href*="sandbox_openid=${user.openid}"]`).click();
      await page.waitForURL((u) => u.pathname === '/h5/');
      const token = await page.evaluate(`sessionStorage.getItem('wecard.session.${TENANT}')`);
      expect(token, 'a session is kept for this tab').toBeTruthy();
      registerSensitive(JSON.parse(String(token)).token);
      await page.getByTestId('bind-card').waitFor();
      if (mode === 'normal') await expect(page.getByTestId('promo').count()).resolves.toBe(1);
      await checkPage(page, mode, '02-home-empty');
    });

    it('turns on the voice button (and elderly mode) on the me page, saved for the user on the server', async () => {
      await page.goto(`${srv.url}/h5/me`);
      await page.getByTestId('switch-voice').click();
      await page.getByTestId('switch-voice').and(page.locator('[aria-checked="true"]')).waitFor();
      if (mode === 'elderly') {
        await page.getByTestId('switch-elderly').click();
        await page.locator('html.elderly').waitFor({ state: 'attached' });
      }
      // Forget the device's copy: after a reload the mode must come back from GET /api/v1/me.
      await page.evaluate(`Object.keys(localStorage).filter((k) => k.startsWith('wecard.prefs')).forEach((k) => localStorage.removeItem(k))`);
      await page.reload();
      await page.getByTestId('switch-voice').and(page.locator('[aria-checked="true"]')).waitFor();
      expect(await page.locator('html.elderly').count()).toBe(mode === 'elderly' ? 1 : 0);
      expect(await page.locator('.tabbar').count()).toBe(mode === 'elderly' ? 0 : 1);
      await checkPage(page, mode, '03-me');
    });

    it('refuses a mistyped card number and ID in the binding form, as the server would', async () => {
      await page.goto(`${srv.url}/h5/bind`);
      await page.locator('input[name=cardNumber]').fill('4111111111111112');
      await page.locator('input[name=holderName]').fill(h.name);
      await page.locator('select[name=idType]').selectOption('resident_id');
      await page.locator('input[name=idNumber]').fill('310101200001011234');
      await page.locator('input[name=phone]').fill('12345');
      await page.getByTestId('bind-submit').click();
      await expect(page.locator('.van-field__error-message').allInnerTexts()).resolves.toEqual(['卡号有误，请核对后重新输入', '证件号码有误（校验位不符），请核对', '请输入11位大陆手机号']);
      await checkPage(page, mode, '04-bind-errors');
    });

    it('binds a demo card with the texted code and the payment password, then shows its balance after the captcha', async () => {
      const card = h.cards.find((c) => c.kind === 'debit' && c.status === 'active')!;
      await page.locator('input[name=cardNumber]').fill(card.number);
      await page.locator('select[name=idType]').selectOption(h.idType);
      await page.locator('input[name=idNumber]').fill(h.idNumber);
      await page.locator('input[name=phone]').fill(h.phone);
      await checkPage(page, mode, '05-bind-form');
      const since = new Date(Date.now() - 1_000).toISOString();
      await page.getByTestId('bind-submit').click();
      await page.locator('input[name=otp]').waitFor();
      await page.locator('input[name=otp]').fill(await srv.lastCode(h.phone, since));
      await page.locator('input[name=paymentPassword]').fill(h.paymentPassword);
      await checkPage(page, mode, '06-bind-otp');
      await page.getByTestId('bind-confirm').click();
      await page.waitForURL(/\/h5\/cards\/[^/]+\/balance$/);
      cardId = /\/cards\/([^/]+)\/balance/.exec(page.url())![1]!;
      // abc-demo puts every bound query behind the (proof-of-work) captcha: the dialog solves it in a worker.
      const stepUp = await balanceShown(page, h, { mode, name: '07-step-up' });
      expect(stepUp, 'a balance ≥ ¥500,000 (and only that) asks for the payment password').toBe(mode === 'elderly');
      expect(await page.getByTestId('available').innerText()).toMatch(/^¥[\d,]+\.\d{2}$/);
      expect(await page.getByTestId('as-of').innerText()).toMatch(/数据时间 \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}/);
      expect(await page.getByTestId('stale-marker').count()).toBe(0);
      await checkPage(page, mode, '07-balance');
      await page.getByRole('heading', { name: '可用余额' }).waitFor();
    });

    it('marks a balance answered from the last known value as stale, visibly', async () => {
      // The core stays up in this run; the answer's stale flag is what the page must show.
      await page.route('**/api/v1/cards/*/balance', async (route) => {
        const res = await route.fetch();
        if (!res.ok()) return route.fulfill({ response: res });
        return route.fulfill({ response: res, json: { ...(await res.json()), stale: true } });
      });
      await page.reload();
      await balanceShown(page, h);
      await page.getByTestId('stale-marker').waitFor();
      expect(await page.getByTestId('stale-marker').innerText()).toContain('可能不是最新');
      await expect(page.getByTestId('stale-tag').innerText()).resolves.toBe('非实时');
      await checkPage(page, mode, '08-balance-stale');
      await page.unroute('**/api/v1/cards/*/balance');
      await page.reload();
      await balanceShown(page, h);
    });

    it('reads the balance and the last transaction aloud in zh-CN, amounts in Chinese money words, with the text on screen', async () => {
      const available = fenOf(await page.getByTestId('available').innerText());
      await page.getByTestId('voice-button').click();
      await page.getByTestId('voice-text').and(page.locator(':not([hidden])')).waitFor({ timeout: 30_000 });
      const said = await phone.spoken();
      expect(said).toHaveLength(1);
      expect(said[0]!.lang).toBe('zh-CN');
      expect(said[0]!.text).toContain(`可用余额${fenToSpokenChinese(available)}`);
      expect(said[0]!.text).toMatch(/最近一笔交易，\d{1,2}月\d{1,2}日，(收入|支出)/);
      expect(await page.getByTestId('voice-text').innerText(), 'the same text on screen, for screen readers and devices without a voice').toContain(said[0]!.text);
      await checkPage(page, mode, '09-balance-voice');
    });

    it('pages the statement by scrolling, and downloads it as CSV', async () => {
      await page.getByTestId('to-statement').click();
      await page.waitForURL(/\/statement$/);
      const rows = page.locator('[data-testid=txn-list] li');
      await rows.first().waitFor({ timeout: 30_000 });
      await settle(page);
      const before = await rows.count();
      expect(before).toBeGreaterThanOrEqual(20);
      await checkPage(page, mode, '10-statement');
      for (let i = 0; i < 5 && (await rows.count()) === before; i++) {
        await page.mouse.wheel(0, 4000);
        await page.waitForTimeout(400);
      }
      expect(await rows.count(), 'scrolling to the end loads the next page').toBeGreaterThan(before);
      if (mode === 'normal') {
        const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('csv-download').click()]);
        const csv = readFileSync((await download.path())!, 'utf8');
        expect(csv.charCodeAt(0), 'Excel-friendly UTF-8 BOM').toBe(0xfeff);
        expect(csv.split('\n').length).toBeGreaterThan(before);
      }
    });

    it('shows monthly income and expense as a chart, and a tapped month in detail', async () => {
      await page.goto(`${srv.url}/h5/cards/${cardId}/balance`);
      await balanceShown(page, h);
      await page.getByTestId('to-trends').click();
      await page.waitForURL(/\/trends$/);
      await page.locator('[data-testid=trends-chart] canvas').first().waitFor({ timeout: 30_000 });
      const months = page.locator('[data-testid=trend-months] button');
      expect(await months.count()).toBe(mode === 'elderly' ? 6 : 12);
      await months.last().click();
      await page.getByTestId('trend-detail').waitFor();
      expect(await page.getByTestId('trend-detail').innerText()).toMatch(/收入[\s\S]*¥[\d,]+\.\d{2}[\s\S]*支出/);
      await checkPage(page, mode, '11-trends');
    });

    it('shows every account with totals per currency on the overview', async () => {
      await page.goto(`${srv.url}/h5/overview`);
      await page.getByTestId('overview-totals').waitFor({ timeout: 30_000 });
      await checkPage(page, mode, '12-overview');
    });

    it('grants the financial-information consent under the current notice version', async () => {
      await page.goto(`${srv.url}/h5/consents`);
      await page.getByTestId('consent-financial_info').click();
      await page.getByTestId('consent-financial_info').and(page.locator('[aria-checked="true"]')).waitFor();
      await page.locator('text=已授权').first().waitFor();
      await checkPage(page, mode, '13-consents');
    });

    it('lists the bound card masked on the home page and offers its management', async () => {
      await page.goto(`${srv.url}/h5/`);
      await page.getByTestId('card-list').locator('li').first().waitFor();
      const text = await page.getByTestId('card-list').innerText();
      const card = h.cards.find((c) => c.kind === 'debit' && c.status === 'active')!;
      expect(text).toContain(card.number.slice(-4));
      expect(text).not.toContain(card.number.slice(6, 12));
      await checkPage(page, mode, '14-cards');
      await page.goto(`${srv.url}/h5/cards/${cardId}/manage`);
      await page.getByTestId('unbind').waitFor();
      await checkPage(page, mode, '15-manage');
    });

    if (mode === 'normal') {
      it('answers a no-bind quick balance for another card after its texted code', async () => {
        const q = holder(QUICK_HOLDER);
        const card = q.cards.find((c) => c.kind === 'debit' && c.status === 'active')!;
        await page.goto(`${srv.url}/h5/quick-balance`);
        await page.locator('input[name=cardNumber]').fill(card.number);
        await page.locator('input[name=phone]').fill(q.phone);
        await checkPage(page, mode, '16-quick-form');
        const since = new Date(Date.now() - 1_000).toISOString();
        await page.locator('button[type=submit]').click();
        await page.locator('input[name=otp]').waitFor();
        await page.locator('input[name=otp]').fill(await srv.lastCode(q.phone, since));
        await page.locator('button[type=submit]').click();
        await page.getByTestId('quick-result').waitFor({ timeout: 30_000 });
        expect(await page.getByTestId('quick-result').innerText()).toMatch(/¥[\d,]+\.\d{2}[\s\S]*T\+1/);
        await checkPage(page, mode, '17-quick-result');
      });

      it('reports the card lost, after which its balance answers card_lost in a dialog', async () => {
        await page.goto(`${srv.url}/h5/cards/${cardId}/manage`);
        await page.getByTestId('loss-report').click();
        await confirmDialog(page);
        await page.locator('text=已挂失').first().waitFor();
        await page.goto(`${srv.url}/h5/cards/${cardId}/balance`);
        await page.getByTestId('dialog-notice-card_lost').waitFor({ timeout: 30_000 });
        await checkPage(page, mode, '18-card-lost');
      });
    }
  });
}
