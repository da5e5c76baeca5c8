// Starts the H5 app: language, stored session and preferences, the problem dialogs wired into the API client, then the router.
import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router.ts';
import { i18n, startLocale } from './i18n.ts';
import { setProblemResolver, setUnauthenticatedHandler } from './api/http.ts';
import { resolveProblem } from './problems/dialogs.ts';
import { applyPrefs, restoreTenant, session } from './state/session.ts';
import './styles.css';

restoreTenant();
applyPrefs(session.prefs);

setProblemResolver(resolveProblem);
setUnauthenticatedHandler(() => {
  const here = router.currentRoute.value;
  if (here.name !== 'signin') void router.replace({ name: 'signin', query: { redirect: here.fullPath } });
});

router.afterEach((to) => {
  const title = to.meta.title ? i18n.global.t(to.meta.title) : '';
  const name = session.config?.tenant?.name ?? i18n.global.t('app.title');
  document.title = title ? `${title} - ${name}` : name;
});

// A failed language download leaves the default language on: the pages still work.
void startLocale()
  .catch(() => undefined)
  .finally(() => createApp(App).use(router).use(i18n).mount('#app'));
