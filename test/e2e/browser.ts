// Chromium for the e2e tests: Debian's /usr/bin/chromium driven by playwright-core (never a downloaded browser), a fresh profile per flow, a phone-sized viewport.
import { copyFileSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const CHROMIUM_PATH = process.env.WECARD_CHROMIUM ?? '/usr/bin/chromium';
/** The machine's network is closed: without these Chromium keeps trying Google's hosts. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** iPhone 6/7/8: the smallest phone the pages are designed for. */
export const PHONE_VIEWPORT = { width: 375, height: 667 };
export const SCREENSHOT_DIR = path.resolve(process.env.WECARD_TEST_RESULTS ?? 'test-results', 'e2e');
/** The README's screenshots: with WECARD_README_SCREENSHOTS=1 the run copies these shots there too. */
export const README_SCREENSHOT_DIR = path.resolve(new URL('../..', import.meta.url).pathname, 'docs', 'screenshots');
const README_SHOTS: Record<string, string> = {
  phone: 'phone.png',
  'normal-09-balance-voice': 'balance.png',
  'elderly-09-balance-voice': 'balance-elderly.png',
  'normal-11-trends': 'trends.png',
};

/** Replaces speechSynthesis with a recorder of what the page asks it to say (`window.__spoken`). */
const SPEECH_STUB = `(() => {
  const said = [];
  window.__spoken = said;
  const fake = {
    speak(u) { said.push({ text: u.text, lang: u.lang }); },
    cancel() {}, pause() {}, resume() {},
    getVoices() { return []; },
    speaking: false, pending: false, paused: false, onvoiceschanged: null,
    addEventListener() {}, removeEventListener() {},
  };
  Object.defineProperty(window, 'speechSynthesis', { value: fake, configurable: true });
})();`;

export interface Phone {
  context: BrowserContext;
  page: Page;
  /** What the page asked speechSynthesis to say (the stub records instead of speaking). */
  spoken(): Promise<{ text: string; lang: string }[]>;
  close(): Promise<void>;
}

/**
 * A fresh Chromium profile at 375×667 with touch, zh-CN, and speechSynthesis replaced by a
 * recorder (headless Chromium has no voices; the test reads what would have been said).
 * `viewport` and `mobile: false` make a desktop window instead (the sandbox's phone page).
 */
export async function openPhone(opts: { locale?: string; viewport?: { width: number; height: number }; mobile?: boolean } = {}): Promise<Phone> {
  const mobile = opts.mobile ?? true;
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'wecard-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: opts.viewport ?? PHONE_VIEWPORT,
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
    locale: opts.locale ?? 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    acceptDownloads: true,
    // The app's CSS turns transitions off: screenshots and clicks never catch a dialog mid-animation.
    reducedMotion: 'reduce',
  });
  // A script text, not a function: the test runner's transform would add helpers the page lacks.
  await context.addInitScript({ content: SPEECH_STUB });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    spoken: () => page.evaluate('window.__spoken || []') as Promise<{ text: string; lang: string }[]>,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  // From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: file, fullPage: true });
  const readme = README_SHOTS[name];
  if (readme && process.env.WECARD_README_SCREENSHOTS === '1') {
    mkdirSync(README_SCREENSHOT_DIR, { recursive: true });
    copyFileSync(file, path.join(README_SCREENSHOT_DIR, readme));
  }
  return file;
}

export interface AxeProblem {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** axe-core's WCAG 2.1 A/AA rules on the page as it is; the serious and critical violations. */
export async function seriousA11yViolations(page: Page): Promise<AxeProblem[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
}
