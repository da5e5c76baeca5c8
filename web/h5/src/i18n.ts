// Languages: 简体中文 first, English; the choice is kept on this device (?lang= overrides it once).
import { createI18n } from 'vue-i18n';
import zhCN from './locales/zh-CN.ts';
import en from './locales/en.ts';
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

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
});

export function setLocale(l: Locale): void {
  i18n.global.locale.value = l;
  writeJson(local, LOCALE_KEY, l);
  document.documentElement.lang = l;
}
