// The simulated phone's public face: its routes (the page and its assets).
export { phoneRoutes } from './routes.ts';
