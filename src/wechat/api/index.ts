// The outbound WeChat API's public face: the shared access_token, API calls, messages, login and user data.
export { type WechatAppKind, type WechatApp } from './apps.ts';
export { WechatApiError } from './errors.ts';
export {
  getAccessToken,
  refreshAccessTokenIfCurrent,
  fetchPlatformToken,
  DEFAULT_TOKEN_ENDPOINT,
  TOKEN_LEASE_MS,
  TOKEN_WAIT_MAX_MS,
  type TokenEndpoint,
} from './token.ts';
export { tokenStats, type TokenStats } from './token-store.ts';
export { callWechatApi, callWechatApiRaw, type WechatApiRequest } from './call.ts';
export {
  sendCustomText,
  sendTemplateMessage,
  sendSubscribeMessage,
  templateMessageProblems,
  subscribeMessageProblems,
  type TemplateMessage,
  type SubscribeMessage,
  type MessageData,
} from './messages.ts';
export { code2Session, exchangeOAuthCode, getUserPhoneNumber } from './login.ts';
export { decryptUserData } from './user-data.ts';
export {
  classifyErrcode,
  isRetryableErrcode,
  appErrorForErrcode,
  TOKEN_INVALID_ERRCODES,
  TOKEN_REFRESH_AHEAD_MS,
  type ErrcodeClass,
} from './policy.ts';
export { WECHAT_API_TIMEOUT_MS } from './http.ts';
