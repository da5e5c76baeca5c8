// Demo operators for the sandbox's demo tenants: one shared demo password, a fixed TOTP secret per username (printed in the README tour).
import { createHash } from 'node:crypto';
import { hash } from '@node-rs/argon2';
import type { AppContext } from '../app/context.ts';
import { listTenants } from '../tenants/index.ts';
// spec.ts, not the demo index: seedDemo (there) calls seedDemoOperators (here).
import { DEMO_TENANTS } from '../sandbox/demo/spec.ts';
import { adminDb, type OperatorRole } from './admin.table.ts';
import { ARGON2ID, createOperator } from './operators.ts';

/** Fictitious, like every value of the demo sheet; the seed runs only with the sandbox on. */
export const DEMO_OPERATOR_PASSWORD = 'wecard-demo-2026';
export const DEMO_PLATFORM_ADMIN = 'admin';
/** Demo tenants that get a full team (the others get an admin only, to keep the seed fast). */
const DEMO_TEAMS: Record<string, readonly OperatorRole[]> = {
  'hz-citizen-card': ['operator', 'reviewer', 'reviewer', 'auditor', 'admin'],
  'abc-demo': ['operator', 'reviewer', 'reviewer', 'auditor', 'admin'],
};

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** The demo TOTP secret of a username: 160 bits derived from it, so the README can print it. */
export function demoTotpSecret(username: string): string {
  return base32(createHash('sha256').update(`wecard-demo-totp:${username}`).digest().subarray(0, 20));
}

export interface DemoOperator {
  username: string;
  tenantId: string | null;
  role: OperatorRole;
  totpSecret: string;
}

/** The demo team: the platform admin, then per demo tenant `<tenant>.<role>` (a second reviewer as `.reviewer2`). */
export function demoOperators(tenantIds: readonly string[]): DemoOperator[] {
  const out: DemoOperator[] = [{ username: DEMO_PLATFORM_ADMIN, tenantId: null, role: 'admin', totpSecret: demoTotpSecret(DEMO_PLATFORM_ADMIN) }];
  for (const tenantId of tenantIds) {
    const roles = DEMO_TEAMS[tenantId] ?? (['admin'] as const);
    const seen = new Map<string, number>();
    for (const role of roles) {
      const n = (seen.get(role) ?? 0) + 1;
      seen.set(role, n);
      const username = `${tenantId}.${role}${n > 1 ? n : ''}`;
      out.push({ username, tenantId, role, totpSecret: demoTotpSecret(username) });
    }
  }
  return out;
}

/** Creates the demo operators that do not exist yet (idempotent). Call from seedDemo, after the tenants. */
export async function seedDemoOperators(ctx: AppContext): Promise<{ created: string[] }> {
  const demo = new Set(DEMO_TENANTS.map((t) => t.id));
  const tenants = (await listTenants(ctx.db)).map((t) => t.id).filter((id) => demo.has(id));
  const wanted = demoOperators(tenants);
  const existing = new Set((await adminDb(ctx.db).selectFrom('admin_operators').select('username').where('username', 'in', wanted.map((w) => w.username)).execute()).map((r) => r.username));
  const missing = wanted.filter((w) => !existing.has(w.username));
  if (missing.length === 0) return { created: [] };
  const passwordHash = await hash(DEMO_OPERATOR_PASSWORD, { algorithm: ARGON2ID });
  const created: string[] = [];
  for (const m of missing) {
    await createOperator(
      ctx,
      { tenantId: m.tenantId, username: m.username, displayName: m.username, role: m.role, password: DEMO_OPERATOR_PASSWORD, totpSecret: m.totpSecret, createdBy: 'seed' },
      { passwordHash },
    );
    created.push(m.username);
  }
  return { created };
}
