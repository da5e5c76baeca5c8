// The console's API client: the session rides in an HttpOnly cookie; unsafe calls echo the CSRF cookie in X-CSRF-Token.
export const BASE = '/admin/api/v1';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly body: Record<string, unknown>) {
    super(message);
  }
}

function csrf(): string | undefined {
  const m = document.cookie.split(';').map((c) => c.trim()).find((c) => c.startsWith('wecard_admin_csrf='));
  return m ? decodeURIComponent(m.slice('wecard_admin_csrf='.length)) : undefined;
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const token = csrf();
  if (method !== 'GET' && token) headers['x-csrf-token'] = token;
  const res = await fetch(`${BASE}${path}`, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    const p = (typeof data === 'object' ? data : {}) as Record<string, unknown>;
    throw new ApiError(res.status, String(p.code ?? 'internal'), String(p.detail ?? res.statusText), p);
  }
  return data as T;
}

/** Fen (integer, as a string or number) shown as yuan with two decimals. */
export function yuan(fen: string | number | null | undefined): string {
  if (fen === null || fen === undefined) return '—';
  const v = BigInt(fen);
  const neg = v < 0n;
  const a = neg ? -v : v;
  return `${neg ? '-' : ''}¥${(a / 100n).toString()}.${(a % 100n).toString().padStart(2, '0')}`;
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—';
}

export function minutesLeft(ms: number): string {
  const m = Math.round(ms / 60000);
  return m >= 0 ? `剩余 ${m} 分钟` : `超时 ${-m} 分钟`;
}
