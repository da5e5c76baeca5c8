// Vite build of the operator console (Vue 3 + Element Plus + ECharts): served by the server under /admin/.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/admin/',
  plugins: [vue()],
  define: { __VUE_OPTIONS_API__: 'true', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false' },
  build: { outDir: 'dist', emptyOutDir: true, target: ['es2020'], reportCompressedSize: false, chunkSizeWarningLimit: 2000, sourcemap: false },
  server: { proxy: { '/admin/api': 'http://127.0.0.1:3000' } },
});
