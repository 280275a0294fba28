import { effectivePermissions, rolePermissions, type PermissionMode } from '../auth/permissions.js';
import type { StoreOps } from '../db/store.js';

/**
 * The no-escalation rule, for every face: the rights a credential would have may not exceed the caller's
 * own current rights. Returns the permissions the caller may not grant (empty when allowed).
 */
export async function ungrantable(store: StoreOps, caller: ReadonlySet<string>, accountId: number, mode: PermissionMode, list: readonly string[]): Promise<string[]> {
  const account = await store.accountById(accountId);
  if (!account) return [];
  const wanted = effectivePermissions(rolePermissions(account.role), mode, list);
  // An Inherit key made by an Inherit key of the same role: the very same set, nothing to check (every /set create).
  if (wanted === caller) return [];
  const missing: string[] = [];
  for (const p of wanted) if (!caller.has(p)) missing.push(p);
  return missing;
}

export function describeUngrantable(missing: readonly string[]): string {
  const shown = missing.slice(0, 5).join(', ');
  return `You are not authorized to grant permissions: ${missing.length > 5 ? `${shown} and ${missing.length - 5} more` : shown}`;
}
