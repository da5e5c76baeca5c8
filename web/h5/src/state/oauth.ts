// The OA web-auth round trip this tab started: the random state it sent, the institution and where to go after signing in.
export interface PendingOAuth {
  state: string;
  tenantId: string;
  redirect: string;
}
export const OAUTH_KEY = 'wecard.oauth';
