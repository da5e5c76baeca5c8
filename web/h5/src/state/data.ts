// Data several pages share, loaded once per sign-in: the tenant's page settings, the user (/me) and the bound cards.
import { reactive } from 'vue';
import { api, type Card } from '../api/endpoints.ts';
import { session, setMe, type H5Config, type Me } from './session.ts';

export const cache = reactive({
  cards: null as Card[] | null,
  cardsOf: null as string | null,
});

let configLoading: Promise<H5Config> | undefined;

export async function ensureConfig(): Promise<H5Config> {
  const want = session.tenantId ?? undefined;
  if (session.config && (session.config.tenant?.id ?? undefined) === want) return session.config;
  configLoading ??= api.config(want).finally(() => (configLoading = undefined));
  const c = await configLoading;
  session.config = c;
  return c;
}

export async function ensureMe(force = false): Promise<Me> {
  if (session.me && !force && session.me.user.id === session.user?.id) return session.me;
  const me = await api.me();
  setMe(me);
  return me;
}

export async function loadCards(force = false): Promise<Card[]> {
  const who = session.user?.id ?? null;
  if (!force && cache.cards && cache.cardsOf === who) return cache.cards;
  const cards = await api.cards();
  cache.cards = cards;
  cache.cardsOf = who;
  return cards;
}

export function forgetCards(): void {
  cache.cards = null;
  cache.cardsOf = null;
}
