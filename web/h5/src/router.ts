// Routes of the H5 app (history mode under /h5/; the server answers index.html for any of them). Every page is its own chunk.
import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router';
import { setTenant, signedIn } from './state/session.ts';

declare module 'vue-router' {
  interface RouteMeta {
    /** Needs a signed-in cardholder. */
    auth?: boolean;
    /** A top-level page: the bottom navigation shows (normal mode). */
    tab?: boolean;
    /** i18n key of the document title. */
    title?: string;
  }
}

export const router = createRouter({
  history: createWebHistory('/h5/'),
  routes: [
    { path: '/', name: 'cards', component: () => import('./pages/CardsPage.vue'), meta: { auth: true, tab: true, title: 'cards.title' } },
    { path: '/signin', name: 'signin', component: () => import('./pages/SignInPage.vue'), meta: { title: 'signin.title' } },
    { path: '/auth/callback', name: 'callback', component: () => import('./pages/AuthCallbackPage.vue'), meta: { title: 'signin.title' } },
    { path: '/bind', name: 'bind', component: () => import('./pages/BindPage.vue'), meta: { auth: true, title: 'bind.title' } },
    { path: '/cards/:cardId/balance', name: 'balance', component: () => import('./pages/BalancePage.vue'), meta: { auth: true, title: 'balance.title' } },
    { path: '/cards/:cardId/manage', name: 'manage', component: () => import('./pages/CardManagePage.vue'), meta: { auth: true, title: 'cards.manageTitle' } },
    { path: '/cards/:cardId/statement', name: 'statement', component: () => import('./pages/StatementPage.vue'), meta: { auth: true, title: 'statement.title' } },
    { path: '/cards/:cardId/trends', name: 'trends', component: () => import('./pages/TrendsPage.vue'), meta: { auth: true, title: 'trends.title' } },
    { path: '/overview', name: 'overview', component: () => import('./pages/OverviewPage.vue'), meta: { auth: true, tab: true, title: 'overview.title' } },
    { path: '/quick-balance', name: 'quick', component: () => import('./pages/QuickBalancePage.vue'), meta: { auth: true, title: 'quick.title' } },
    { path: '/consents', name: 'consents', component: () => import('./pages/ConsentsPage.vue'), meta: { auth: true, title: 'consents.title' } },
    { path: '/me', name: 'me', component: () => import('./pages/MePage.vue'), meta: { auth: true, tab: true, title: 'me.title' } },
    { path: '/topup', name: 'topup', component: () => import('./pages/TopupPage.vue'), meta: { auth: true, title: 'topup.title' } },
    { path: '/relatives', name: 'relatives', component: () => import('./pages/RelativesPage.vue'), meta: { auth: true, title: 'relatives.title' } },
    { path: '/topups/:orderId', name: 'topupStatus', component: () => import('./pages/TopupStatusPage.vue'), meta: { auth: true, title: 'topupStatus.title' } },
    { path: '/bills/:billRef', name: 'bill', component: () => import('./pages/BillPage.vue'), meta: { auth: true, title: 'bill.title' } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
});

router.beforeEach((to: RouteLocationNormalized) => {
  // An OA menu link names the institution: /h5/?tenant=abc-demo.
  const tenant = typeof to.query.tenant === 'string' ? to.query.tenant : undefined;
  if (tenant) setTenant(tenant);
  if (to.meta.auth && !signedIn()) {
    return { name: 'signin', query: { redirect: to.fullPath } };
  }
  return true;
});
