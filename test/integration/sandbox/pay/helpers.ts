// Helpers for the sandbox Pay tests: calls to the sandbox API (cashier, notifications, fault switches) over real HTTP.
import type { Platform } from '../../../helpers/platform.ts';

export async function sandboxApi(platform: Platform, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${platform.sandbox.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

export interface ListedNotification {
  id: string;
  kind: string;
  eventType: string;
  subject: string;
  deliveredAt: string | null;
  attempts: { at: string; status: number | null; duplicate: boolean; error: string | null }[];
}

/** The notifications the sandbox sent about one order or refund, newest first. */
export async function notificationsAbout(platform: Platform, tenantId: string, subject: string): Promise<ListedNotification[]> {
  const res = await sandboxApi(platform, 'GET', `/sandbox/api/pay/notifications?tenantId=${tenantId}&subject=${encodeURIComponent(subject)}`);
  if (res.status !== 200) throw new Error(`notifications: HTTP ${res.status}`);
  return res.json.items as ListedNotification[];
}

export async function setFaults(platform: Platform, tenantId: string, faults: Record<string, unknown>): Promise<void> {
  const res = await sandboxApi(platform, 'PUT', `/sandbox/api/pay/tenants/${tenantId}/faults`, faults);
  if (res.status !== 200) throw new Error(`faults: HTTP ${res.status} ${JSON.stringify(res.json)}`);
}

export async function pay(platform: Platform, prepayId: string): Promise<{ status: number; json: any }> {
  return sandboxApi(platform, 'POST', `/sandbox/api/pay/orders/${prepayId}/pay`, {});
}
