// The sandbox WeChat platform's public face: simulated users, token verification for other sandbox surfaces, the SMS outbox, the routes.
export { sandboxWxRoutes, SANDBOX_LIST_MAX } from './routes.ts';
export {
  findSandboxUser,
  createSandboxUser,
  issueLoginCode,
  issuePhoneCode,
  noteSandboxInteraction,
  setSandboxSubscribed,
  CODE_TTL_MS,
  CUSTOM_MESSAGE_WINDOW_MS,
  type SandboxUser,
} from './users.ts';
export { verifySandboxToken, checkSandboxToken, revokeSandboxTokens, listTokenFetches, TOKEN_LIFETIME_S, SUPERSEDED_GRACE_MS, type TokenFetches } from './tokens.ts';
export { sandboxSendSms, sandboxSmsFor, type SandboxSms } from './sms.ts';
export { WX_ERRORS, type WxErrcode } from './errors.ts';
