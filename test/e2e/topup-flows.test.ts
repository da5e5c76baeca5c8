// End-to-end: a citizen-card top-up paid at the sandbox's WeChat Pay cashier, its status credited, its bill and customer service; then the simulated phone with the OA menu's pages, the tray's template messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPhone, screenshot, type Phone } from './browser.ts';
import { checkPage, settle } from './checks.ts';
import { startE2EServer, type E2EServer } from './server.ts';
import { balanceShown, bindCard, confirmDialog, demoHolder, fenOf, signIn, turnOnElderlyMode, type Holder } from './steps.ts';

const TENANT = 'hz-citizen-card';
/** 徐静: an electronic card (normal mode); 黄国平, born 1949, her father here: a physical card (elderly mode), loaded at a terminal later. */
const HOLDERS = { normal: '徐静', elderly: '黄国平' } as const;
const PHYSICAL_CARD = { normal: false, elderly: true } as const;
/** ¥100 by WeChat balance: within every demo method's limits, far below the ¥5,000 stored-value cap. */
const AMOUNT_FEN = 10_000;
const CREDITED = ['credited', 'settling', 'completed'];

let srv: E2EServer;
/** The normal-mode user, whose phone the last test opens. */
const phoneUser = { openid: '', holderIndex: -1, phone: '' };

beforeAll(async () => {
  srv = await startE2EServer();
  // The production module list (src/app/modules.ts) must serve top-ups: say so plainly when it does not.
  if (!srv.server.app.hasRoute({ method: 'POST', url: '/api/v1/topups' })) {
    throw new Error('POST /api/v1/topups is not mounted: src/app/modules.ts must mount topupRoutes() and payNotifications(topupPaymentHandlers())');
  }
});
afterAll(async () => {
  await srv?.close();
});

for (const mode of ['normal', 'elderly'] as const) {
  describe(`a citizen-card top-up in ${mode} mode`, () => {
    let phone: Phone;
    let page: Page;
    let h: Holder;
    let cardId = '';
    let orderId = '';
    let balanceBefore = 0n;

    beforeAll(async () => {
      h = demoHolder(srv, TENANT, HOLDERS[mode]);
      phone = await openPhone();
      page = phone.page;
      page.on('pageerror', (e) => process.stderr.write(`[topup ${mode} page error] ${e.message}\n`));
    });
    afterAll(async () => {
      await phone?.close();
    });

    it('signs in and binds the citizen card, which shows its balance', async () => {
      const openid = await signIn(page, srv, TENANT, { phone: h.phone });
      if (mode === 'normal') {
        phoneUser.openid = openid;
        phoneUser.holderIndex = srv.demo.cardholders.indexOf(h);
        phoneUser.phone = h.phone;
      } else {
        await turnOnElderlyMode(page, srv);
      }
      const card = h.cards.find((c) => c.kind === 'citizen')!;
      cardId = await bindCard(page, srv, h, card.number, { mode, form: '20-citizen-bind', otp: '21-citizen-otp' });
      await balanceShown(page, h);
      balanceBefore = fenOf(await page.getByTestId('available').innerText());
      await checkPage(page, mode, '22-citizen-balance');
    });

    it('refuses an amount outside the method’s limits before ordering, then orders ¥100 and goes to the cashier', async () => {
      await page.getByTestId('to-topup').click();
      await page.waitForURL(/\/h5\/topup\?card=/);
      await page.getByTestId('topup-form').waitFor();
      const card = h.cards.find((c) => c.kind === 'citizen')!;
      await page.locator('input[name=cardNumber]').fill(card.number);
      await page.locator('input[name=amount]').fill('0.5');
      await page.getByTestId('topup-submit').click();
      await expect(page.locator('#amount-error').innerText()).resolves.toMatch(/单笔金额为 ¥[\d,]+\.\d{2} 至 ¥[\d,]+\.\d{2}/);
      await page.getByTestId(`quick-${AMOUNT_FEN}`).click();
      await expect(page.locator('input[name=amount]').inputValue()).resolves.toBe('100');
      await expect(page.getByTestId('topup-sum').innerText()).resolves.toMatch(/合计支付\s*¥100\.00/);
      await checkPage(page, mode, '23-topup');
      await page.getByTestId('topup-submit').click();
      await page.waitForURL(/\/sandbox\/cashier\?/);
      await page.getByTestId('cashier-amount').and(page.locator(':text("¥100.00")')).waitFor();
      await checkPage(page, mode, '24-cashier');
    });

    it('pays at the cashier and comes back to a status page that shows the top-up credited', async () => {
      await page.locator('#password').fill('123456');
      await page.locator('#pay').click();
      await page.locator('#result:not([hidden])').waitFor();
      expect(await page.locator('#result-text').innerText()).toContain('支付成功 ¥100.00');
      await page.locator('#done').click();
      await page.waitForURL(/\/h5\/topups\/[^/]+$/);
      orderId = /\/topups\/([^/?]+)/.exec(page.url())![1]!;
      const status = page.getByTestId('topup-status');
      await page.locator(CREDITED.map((s) => `[data-testid=topup-status][data-status=${s}]`).join(', ')).waitFor({ timeout: 30_000 });
      expect(await status.innerText()).toMatch(/已到账|已完成/);
      await page.getByTestId('credited-at').waitFor();
      const physical = PHYSICAL_CARD[mode];
      // A physical card's credit waits for its on-card load (圈存) at a terminal: the page says until when.
      if (physical) expect(await page.getByTestId('load-pending').innerText()).toMatch(/圈存/);
      await checkPage(page, mode, '25-topup-status');
      // The electronic card's balance has the ¥100 at once; the physical card's when loaded.
      await page.goto(`${srv.url}/h5/cards/${cardId}/balance`);
      await balanceShown(page, h);
      expect(fenOf(await page.getByTestId('available').innerText())).toBe(balanceBefore + (physical ? 0n : BigInt(AMOUNT_FEN)));
    });

    it('opens the top-up’s bill and contacts customer service after consenting to share it', async () => {
      await page.goto(`${srv.url}/h5/topups/${orderId}`);
      await page.getByTestId('to-bill').click();
      await page.waitForURL(/\/h5\/bills\//);
      await page.getByTestId('bill-amount').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('bill-amount').innerText()).toContain('¥100.00');
      await checkPage(page, mode, '26-bill');
      await page.getByTestId('contact-cs').click();
      await page.getByTestId('dialog-confirm').waitFor();
      expect(await page.getByTestId('dialog-confirm').innerText()).toContain('向客服提供账单');
      await checkPage(page, mode, '27-contact-consent');
      await confirmDialog(page);
      const answer = page.getByTestId('contact-answer');
      await answer.waitFor({ timeout: 30_000 });
      await page.getByTestId('watermark').waitFor();
      const status = await answer.getAttribute('data-status');
      // Agents work 09:00–21:00 Shanghai time: outside those hours the answer is a queue place.
      expect(['ready', 'queued']).toContain(status);
      await checkPage(page, mode, '28-contact');
      if (status === 'ready') {
        expect(await page.getByTestId('contact-agent').innerText()).toMatch(/客服：/);
        // The sandbox's WeCom QR page stands for the code: the simulated WeChat scans it.
        await page.getByTestId('contact-scan').click();
        await page.locator('#scan').waitFor();
        await page.locator('#scan').click();
        await page.locator('#result').and(page.locator(':not(:empty)')).waitFor();
        await screenshot(page, `${mode}-28-wecom-scan`);
      } else {
        expect(await answer.innerText()).toMatch(/排在第\d+位/);
      }
    });

    // 徐静 (normal mode) asks to top up her father 黄国平's card; he (elderly mode, his card bound) accepts.
    it(mode === 'normal' ? 'asks to top up a relative’s citizen card' : 'accepts the relative who asked to top up this card', async () => {
      await page.goto(`${srv.url}/h5/relatives`);
      await page.getByTestId('relative-form').waitFor({ timeout: 30_000 });
      if (mode === 'normal') {
        const father = demoHolder(srv, TENANT, HOLDERS.elderly).cards.find((c) => c.kind === 'citizen')!;
        await page.locator('input[name=relativeCardNumber]').fill(father.number);
        await page.locator('select[name=relation]').selectOption('parent');
        await page.getByTestId('relative-request').click();
        await page.getByTestId('relatives-mine').locator(`li:has-text("尾号${father.number.slice(-4)}")`).locator(':text("待同意")').waitFor();
        await checkPage(page, mode, '29-relatives-asked');
      } else {
        const theirs = page.getByTestId('relatives-theirs').locator('li').first();
        await theirs.locator(':text("待同意")').waitFor();
        await theirs.getByRole('button', { name: /^同意/ }).click();
        await theirs.locator(':text("已生效")').waitFor();
        await checkPage(page, mode, '29-relatives-accepted');
      }
    });
  });
}

describe('the simulated phone', () => {
  let phone: Phone;
  let page: Page;

  beforeAll(async () => {
    phone = await openPhone({ viewport: { width: 900, height: 820 }, mobile: false });
    page = phone.page;
    page.on('pageerror', (e) => process.stderr.write(`[phone page error] ${e.message}\n`));
  });
  afterAll(async () => {
    await phone?.close();
  });

  it('enters the OA as the cardholder who topped up: template messages in the tray, the menu’s H5 page in the phone', async () => {
    expect(phoneUser.openid, 'the normal-mode top-up ran first').not.toBe('');
    await page.goto(`${srv.url}/sandbox/`);
    await page.locator(`#tenant option[value="${TENANT}"]`).waitFor({ state: 'attached' });
    // The phone remembers its WeChat user per tenant and cardholder: be the one who topped up.
    await page.evaluate(`localStorage.setItem(${JSON.stringify(`wecard.sandbox.oaUser:${TENANT}:${phoneUser.holderIndex}`)}, ${JSON.stringify(phoneUser.openid)})`);
    await page.locator('#tenant').selectOption(TENANT);
    await page.locator('#cardholder').selectOption(String(phoneUser.holderIndex));
    await page.locator('#enter').click();
    await page.locator('#messages .msg').first().waitFor();
    // The top-up's "paid" and "credited" template messages, sent by the server's message job.
    await page.locator('#tray-count:not(:text-is("0"))').waitFor({ timeout: 30_000 });
    await page.locator('#tray-toggle').click();
    expect(await page.locator('#tray-list').innerText()).toContain('100.00元');
    await checkPage(page, 'normal', '30-phone-tray');
    await page.locator('#tray-toggle').click();
    await page.locator('#text').fill('帮助');
    await page.locator('#send').click();
    await page.locator('.msg.from-account').first().waitFor({ timeout: 30_000 });
    // 更多 → 我的卡: the H5 app in the phone, signed in silently as this user.
    await page.getByRole('button', { name: '更多' }).click();
    const since = new Date(Date.now() - 1_000).toISOString();
    await page.getByRole('button', { name: '我的卡' }).click();
    const frame = page.frameLocator('#webview-frame');
    const cards = frame.getByTestId('card-list').locator('li').first();
    // This browser is a new device for the user: the page asks for the texted activation code first.
    const activation = frame.getByTestId('dialog-activation');
    await cards.or(activation).waitFor({ timeout: 30_000 });
    if (await activation.isVisible()) {
      await activation.locator(':text("验证码已发送至")').waitFor();
      await frame.locator('input[name=activationOtp]').fill(await srv.lastCode(phoneUser.phone, since));
      await checkPage(page, 'normal', '31-phone-activation');
      await activation.locator('.van-dialog__confirm').click();
    }
    await cards.waitFor({ timeout: 30_000 });
    await settle(page);
    await checkPage(page, 'normal', '32-phone-h5');
    await screenshot(page, 'phone');
  });
});
