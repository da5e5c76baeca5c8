// Vite build of the cardholder H5 app: served by the server under /h5/, pages code-split, charts only on the trends page.
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import vue from '@vitejs/plugin-vue';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Vant's icon font is inlined as a woff2 data URI with a fallback on a CDN. The pages never reach
 * out to third parties (privacy, CSP, closed networks): drop the remote fallback at build time.
 */
function noRemoteFonts(): Plugin {
  return {
    name: 'wecard-no-remote-fonts',
    enforce: 'pre',
    transform(code, id) {
      if (!id.includes('/vant/') || !id.endsWith('.css')) return null;
      return { code: code.replace(/,\s*url\(\/\/at\.alicdn\.com[^)]*\)\s*format\("woff"\)/g, ''), map: null };
    },
  };
}

export default defineConfig({
  root,
  base: '/h5/',
  plugins: [vue(), noRemoteFonts()],
  define: {
    // Composition API only: the options API and devtools hooks are dead weight in the bundle.
    __VUE_OPTIONS_API__: 'false',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
    // vue-i18n compiles messages without eval, so the page's CSP needs no 'unsafe-eval'.
    __INTLIFY_JIT_COMPILATION__: 'true',
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The bundle-size check and the e2e setup read which files each page loads from here.
    manifest: true,
    // WeChat's in-app browser (X5/XWeb) and iOS WebView of the last few years.
    target: ['es2020', 'chrome87', 'safari14'],
    cssCodeSplit: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 700,
    sourcemap: false,
  },
  worker: { format: 'es' },
  server: {
    // `npm run dev:web`: the pages with hot reload, the API from a server started with `npm run dev`.
    proxy: { '/api': 'http://127.0.0.1:3000', '/sandbox': 'http://127.0.0.1:3000' },
    fs: { allow: [fileURLToPath(new URL('../..', import.meta.url))] },
  },
});
