// The sandbox's Official Account side: pushing a simulated user's messages to the server as WeChat does, and the demo menu.
export { sandboxOaRoutes } from './routes.ts';
export { pushOaMessage, signedPush, readReply, newMsgId, WECHAT_PUSH_TIMEOUT_MS, WECHAT_PUSH_RETRIES, SERVICE_UNAVAILABLE_TEXT, type PushResult, type PushFields } from './push.ts';
export { DEMO_OA_MENU, DEMO_MENU_KEYS, type OaMenu, type OaMenuButton } from './menu.ts';
