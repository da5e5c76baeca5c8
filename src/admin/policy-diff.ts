// Pure: the leaf-by-leaf difference between two policy profiles, for the console's preview and the version history.

export interface PolicyChange {
  /** Dotted path of the changed value, e.g. `quotas.boundPerUserPerDay`. */
  path: string;
  from: unknown;
  to: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects are compared key by key; arrays and scalars as whole values (as the policy merge replaces them). */
export function policyDiff(before: unknown, after: unknown, prefix = ''): PolicyChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => policyDiff(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: prefix, from: before === undefined ? null : before, to: after === undefined ? null : after }];
}
