// The operator console: Element Plus (Chinese locale) over the /admin/api/v1 JSON API.
import { createApp } from 'vue';
import ElementPlus from 'element-plus';
import zhCn from 'element-plus/es/locale/lang/zh-cn';
import 'element-plus/dist/index.css';
import App from './App.vue';

createApp(App).use(ElementPlus, { locale: zhCn }).mount('#app');
