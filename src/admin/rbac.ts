// Who may do what in the console: the role × permission matrix and tenant scoping, as pure values (tested exhaustively).
import type { OperatorRole } from './admin.table.ts';

export const OPERATOR_ROLES = ['operator', 'reviewer', 'auditor', 'admin'] as const satisfies readonly OperatorRole[];

/**
 * - operator: runs the service day to day (policies, reconciliation runs, ops, funnel); no money decisions.
 * - reviewer: works the review queue (top-up exceptions, risk freezes); reads what a decision needs.
 * - auditor: reads everything, including the audit log and operators; changes nothing.
 * - admin: everything, including operators and the tenant's switches (four-eyes threshold, pause).
 */
export const PERMISSIONS = {
  'session': ['operator', 'reviewer', 'auditor', 'admin'],
  'tenants.read': ['operator', 'reviewer', 'auditor', 'admin'],
  'policy.read': ['operator', 'reviewer', 'auditor', 'admin'],
  'policy.write': ['operator', 'admin'],
  'settings.read': ['operator', 'reviewer', 'auditor', 'admin'],
  'settings.write': ['admin'],
  'review.read': ['operator', 'reviewer', 'auditor', 'admin'],
  'review.decide': ['reviewer', 'admin'],
  'risk.read': ['operator', 'reviewer', 'auditor', 'admin'],
  'risk.decide': ['reviewer', 'admin'],
  'recon.read': ['operator', 'reviewer', 'auditor', 'admin'],
  'recon.run': ['operator', 'admin'],
  'audit.read': ['auditor', 'admin'],
  'funnel.read': ['operator', 'auditor', 'admin'],
  'ops.read': ['operator', 'admin'],
  'operators.read': ['auditor', 'admin'],
  'operators.manage': ['admin'],
} as const satisfies Record<string, readonly OperatorRole[]>;

export type Permission = keyof typeof PERMISSIONS;

export function isAllowed(role: OperatorRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly OperatorRole[]).includes(role);
}

/** A platform operator (no tenant) acts on every tenant; a tenant's operator only on their own. */
export function canActOnTenant(operatorTenantId: string | null, tenantId: string): boolean {
  return operatorTenantId === null || operatorTenantId === tenantId;
}
