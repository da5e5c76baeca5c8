// Languages: 简体中文 first, English; the choice is kept on this device (?lang= overrides it once).
import { createI18n } from 'vue-i18n';
import zhCN from './locales/zh-CN.ts';
import { local, readJson, writeJson } from './state/storage.ts';

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];
const LOCALE_KEY = 'wecard.locale';

function initialLocale(): Locale {
  const fromQuery = new URLSearchParams(location.search).get('lang');
  if (fromQuery && (LOCALES as readonly string[]).includes(fromQuery)) return fromQuery as Locale;
  const saved = readJson<string>(local, LOCALE_KEY);
  return saved && (LOCALES as readonly string[]).includes(saved) ? (saved as Locale) : 'zh-CN';
}

// Only the default language ships in the first load; others are fetched when chosen.
const messages = { 'zh-CN': zhCN } as Record<Locale, typeof zhCN>;
export const i18n = createI18n({
  legacy: false,
  locale: 'zh-CN' as Locale,
  fallbackLocale: 'zh-CN' as Locale,
  messages,
  missingWarn: false,
  fallbackWarn: false,
});

const loaders: Record<Exclude<Locale, 'zh-CN'>, () => Promise<{ default: typeof zhCN }>> = { en: () => import('./locales/en.ts') };

export async function setLocale(l: Locale, opts: { remember?: boolean } = {}): Promise<void> {
  if (l !== 'zh-CN' && !i18n.global.availableLocales.includes(l)) {
    i18n.global.setLocaleMessage(l, (await loaders[l]()).default);
  }
  i18n.global.locale.value = l;
  if (opts.remember !== false) writeJson(local, LOCALE_KEY, l);
  document.documentElement.lang = l;
}

/** The language this device asked for (?lang=, then the saved choice), loaded before the app mounts. */
export function startLocale(): Promise<void> {
  return setLocale(initialLocale(), { remember: false });
}
