// Who is signed in on this page: tenant, session token, the user and their preferences, the device id; kept in browser storage.
import { reactive } from 'vue';
import { local, perTab, randomId, readJson, writeJson } from './storage.ts';
import type { FeeRule } from '../topup.ts';

export interface User {
  id: string;
  tenantId: string;
  maskedPhone: string | null;
  elderlyMode: boolean;
  voice: boolean;
  deviceActivationRequired: boolean;
}

export interface Me {
  user: User;
  tenant: { id: string; name: string; kind: string };
  boundCards: number;
  elderlyMode: boolean;
  voice: boolean;
}

export interface H5Config {
  sandbox: boolean;
  privacyNoticeVersion: string;
  idTypes: string[];
  tenant: {
    id: string;
    name: string;
    kind: string;
    oaAppId: string | null;
    statements: { maxMonths: number; mode: string };
    noBind: { enabled: boolean };
    /** Absent from servers before the top-up pages; empty: the institution has no top-up. */
    topup?: { methods: TopupMethodRule[] };
  } | null;
  oauthAuthorizeUrl: string;
  tenants: { id: string; name: string; kind: string }[];
}

export interface TopupMethodRule {
  method: 'wechat_balance' | 'bank_card' | 'credit_card';
  minFen: number;
  maxFen: number;
  fee: FeeRule;
}

export interface Prefs {
  elderlyMode: boolean;
  voice: boolean;
}

interface StoredSession {
  token: string;
  expiresAt: string;
  user: User;
}

const TENANT_KEY = 'wecard.tenant';
const DEVICE_KEY = 'wecard.deviceId';
const LAST_PREFS_KEY = 'wecard.prefs.last';
const sessionKey = (tenantId: string) => `wecard.session.${tenantId}`;
const prefsKey = (userId: string) => `wecard.prefs.${userId}`;
/** The server's X-Device-Id rule: 16–64 of A–Z a–z 0–9 _ -. */
const DEVICE_ID = /^[A-Za-z0-9_-]{16,64}$/;
const TENANT_ID = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export const session = reactive({
  tenantId: null as string | null,
  token: null as string | null,
  expiresAt: null as string | null,
  user: null as User | null,
  me: null as Me | null,
  config: null as H5Config | null,
  prefs: readJson<Prefs>(local, LAST_PREFS_KEY) ?? { elderlyMode: false, voice: false },
});

/**
 * This browser's device id: random, generated once and kept, so the server can ask a new device
 * to activate by SMS once and then trust it. Never derived from anything about the person.
 */
export function deviceId(): string {
  const known = local?.getItem(DEVICE_KEY);
  if (known && DEVICE_ID.test(known)) return known;
  const id = `h5_${randomId(24)}`;
  try {
    local?.setItem(DEVICE_KEY, id);
  } catch {
    /* not kept: the next page load activates again */
  }
  return id;
}

export function setTenant(tenantId: string | null): void {
  if (tenantId !== null && !TENANT_ID.test(tenantId)) return;
  if (session.tenantId === tenantId) return;
  session.tenantId = tenantId;
  session.config = null;
  session.me = null;
  writeJson(local, TENANT_KEY, tenantId ?? undefined);
  loadSession();
}

/** The bearer token lives in this tab only (sessionStorage): a closed tab signs out; OA web auth signs in again silently. */
function loadSession(): void {
  const s = session.tenantId ? readJson<StoredSession>(perTab, sessionKey(session.tenantId)) : undefined;
  if (s && Date.parse(s.expiresAt) > Date.now()) {
    session.token = s.token;
    session.expiresAt = s.expiresAt;
    session.user = s.user;
    const p = readJson<Prefs>(local, prefsKey(s.user.id));
    if (p) session.prefs = p;
  } else {
    session.token = null;
    session.expiresAt = null;
    session.user = null;
  }
}

export function restoreTenant(): void {
  const t = readJson<string>(local, TENANT_KEY);
  if (t && TENANT_ID.test(t)) {
    session.tenantId = t;
    loadSession();
  }
}

export function signedIn(): boolean {
  return !!session.token && !!session.expiresAt && Date.parse(session.expiresAt) > Date.now();
}

export function saveSignIn(s: StoredSession): void {
  if (!session.tenantId) return;
  session.token = s.token;
  session.expiresAt = s.expiresAt;
  session.user = s.user;
  writeJson(perTab, sessionKey(session.tenantId), s);
  applyPrefs({ elderlyMode: s.user.elderlyMode, voice: s.user.voice });
}

export function clearSession(): void {
  if (session.tenantId) writeJson(perTab, sessionKey(session.tenantId), undefined);
  session.token = null;
  session.expiresAt = null;
  session.user = null;
  session.me = null;
}

export function setMe(me: Me): void {
  session.me = me;
  applyPrefs({ elderlyMode: me.elderlyMode, voice: me.voice });
}

/** Preferences are the server's (PATCH /api/v1/me); the copy here shows the right mode before the first answer. */
export function applyPrefs(p: Prefs): void {
  session.prefs = { elderlyMode: p.elderlyMode, voice: p.voice };
  writeJson(local, LAST_PREFS_KEY, session.prefs);
  if (session.user) writeJson(local, prefsKey(session.user.id), session.prefs);
  if (typeof document !== 'undefined') document.documentElement.classList.toggle('elderly', p.elderlyMode);
}
