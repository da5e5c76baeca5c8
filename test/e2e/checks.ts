// What every e2e page visit checks: the page settled, a screenshot saved, no serious or critical axe violation, and in elderly mode ≥ 48 px targets.
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { screenshot, seriousA11yViolations } from './browser.ts';

export type Mode = 'normal' | 'elderly';

/** 适老化: every control in the page is at least this tall and wide (CSS px). */
export const ELDERLY_MIN_TARGET_PX = 48;
const SETTLE_TIMEOUT_MS = 30_000;

/** Waits for the page's loading states to end and dialogs to finish opening. */
export async function settle(page: Page): Promise<void> {
  await page.waitForLoadState('domcontentloaded');
  // Polled with evaluate: waitForFunction compiles its predicate in the page, which the app's CSP forbids.
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  // Loading ends, or the page waits on the person: a dialog other than the self-solving captcha is open.
  const waiting = `(() => {
    const busy = !!document.querySelector('[aria-busy=true], .van-loading');
    const asking = !!document.querySelector('.van-dialog:not([data-testid=dialog-captcha])');
    return busy && !asking;
  })()`;
  while (await page.evaluate(waiting)) {
    if (Date.now() > deadline) throw new Error(`the page is still loading after ${SETTLE_TIMEOUT_MS} ms`);
    await page.waitForTimeout(100);
  }
  // Vant mounts popups on the next frame even with motion reduced.
  await page.waitForTimeout(150);
}

/** Controls smaller than the elderly-mode minimum, as `tag text (w×h)`. */
export async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const min = ${ELDERLY_MIN_TARGET_PX};
    const out = [];
    const sel = 'main button, main a[href], main select, main input:not([type=hidden]), main [role=switch], .van-dialog button, header button';
    for (const el of document.querySelectorAll(sel)) {
      if (el.closest('.skip-link')) continue;
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (r.width === 0 || r.height === 0 || style.visibility === 'hidden' || style.display === 'none') continue;
      if (r.height + 0.5 < min || r.width + 0.5 < min) out.push(el.tagName.toLowerCase() + ' ' + (el.textContent || el.getAttribute('name') || '').trim().slice(0, 20) + ' (' + Math.round(r.width) + '×' + Math.round(r.height) + ')');
    }
    return out;
  })()`);
}

/**
 * Settles, saves `<mode>-<name>.png`, and asserts axe-core finds no serious or critical WCAG
 * violation; in elderly mode also that every control is at least 48×48 px.
 */
export async function checkPage(page: Page, mode: Mode, name: string): Promise<void> {
  await settle(page);
  await screenshot(page, `${mode}-${name}`);
  const violations = await seriousA11yViolations(page);
  expect(violations, `axe on ${mode}/${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  // The elderly flow starts in normal mode (a new device) until the person switches.
  if (mode === 'elderly' && (await page.locator('html.elderly').count()) > 0) {
    expect(await smallTargets(page), `targets under ${ELDERLY_MIN_TARGET_PX}px on elderly/${name}`).toEqual([]);
  }
}
