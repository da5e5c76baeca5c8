// Test fixture for the operator console: the admin schema on a test database, the module list with the console, and a signed-in console client (cookies, CSRF, TOTP).
import { expect } from 'vitest';
import { generateSync } from 'otplib';
import type { ModulePlugin } from '../../../src/app/server.ts';
import type { Db } from '../../../src/db/tx.ts';
import type { Clock } from '../../../src/shared/clock.ts';
import { MIGRATIONS } from '../../../src/db/migrate.ts';
import { up as adminUp } from '../../../src/db/migrations/0022_admin.ts';
import { adminRoutes, CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE } from '../../../src/admin/index.ts';
import { registerSensitive } from '../../helpers/secrets.ts';

/** The admin tables, whether or not 0022_admin is registered in the migrator yet. */
export async function ensureAdminSchema(db: Db): Promise<void> {
  if ('0022_admin' in MIGRATIONS) return;
  await adminUp(db as never);
}

/** `modules` plus the console, unless it is in the list already (once src/app/modules.ts mounts it). */
export function withAdmin(modules: ModulePlugin[]): ModulePlugin[] {
  return modules.includes(adminRoutes) ? modules : [...modules, adminRoutes];
}

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface Console {
  username: string;
  csrf: string | undefined;
  cookies: Map<string, string>;
  call(method: string, path: string, body?: unknown, o?: { csrf?: string | false; headers?: Record<string, string> }): Promise<Answer>;
  signIn(password: string, totpSecret: string): Promise<Answer>;
}

export function totpAt(secret: string, clock: Clock): string {
  return generateSync({ secret, epoch: Math.floor(clock.now().getTime() / 1000) });
}

/** A browser-like console client of one operator: keeps the cookies it is given, echoes the CSRF cookie on unsafe methods. */
export function consoleFor(baseUrl: string, username: string, clock: Clock): Console {
  const c: Console = {
    username,
    csrf: undefined,
    cookies: new Map(),
    call: async (method, path, body, o = {}) => {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (c.cookies.size > 0) headers.cookie = [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const csrf = o.csrf === undefined ? c.cookies.get(CSRF_COOKIE) : o.csrf;
      if (csrf && !['GET', 'HEAD'].includes(method)) headers[CSRF_HEADER] = csrf;
      const res = await fetch(`${baseUrl}${path.startsWith('/admin') ? path : `/admin/api/v1${path}`}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      for (const sc of res.headers.getSetCookie()) {
        const [pair] = sc.split(';');
        const i = pair!.indexOf('=');
        const name = pair!.slice(0, i);
        const value = pair!.slice(i + 1);
        if (value === '') c.cookies.delete(name);
        else {
          c.cookies.set(name, value);
          registerSensitive(value);
        }
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* CSV or empty */
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    signIn: async (password, totpSecret) => {
      const r = await c.call('POST', '/session', { username, password, totp: totpAt(totpSecret, clock) });
      if (r.status === 201) {
        expect(c.cookies.get(SESSION_COOKIE)).toBeTruthy();
        c.csrf = r.body.csrfToken;
      }
      return r;
    },
  };
  return c;
}
