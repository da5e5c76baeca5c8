// The sandbox WeCom platform's public face: its routes, its demo customer-service members, the welcome-code rule.
export { sandboxWecomRoutes } from './routes.ts';
export { SANDBOX_WECOM_AGENTS, findSandboxAgent, type SandboxWecomAgent } from './agents.ts';
export { WELCOME_CODE_TTL_MS, scanContactWay, type ScanResult } from './scan.ts';
export { DELIVER_EVENT_TOPIC } from './deliver.ts';
