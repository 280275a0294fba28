import type { Principal } from '../auth/authenticator.js';
import { maskWithin } from '../auth/ipmask.js';
import { effectivePermissions, rolePermissions, type PermissionMode } from '../auth/permissions.js';
import type { AccountRow, StoreOps } from '../db/store.js';
import type { CallerRestrictions } from '../jmap/types.js';
import { formatUtcDate } from '../util/utcdate.js';

/**
 * The no-escalation rule, for every face: the rights a credential would have may not exceed the caller's
 * own current rights. Returns the permissions the caller may not grant (empty when allowed).
 */
export async function ungrantable(store: StoreOps, caller: ReadonlySet<string>, accountId: number, mode: PermissionMode, list: readonly string[]): Promise<string[]> {
  return ungrantableFor(await store.accountById(accountId), caller, mode, list);
}

/** `ungrantable` for an account already read (a /set's creates read it once). */
export function ungrantableFor(account: Pick<AccountRow, 'role'> | undefined, caller: ReadonlySet<string>, mode: PermissionMode, list: readonly string[]): string[] {
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

/**
 * Delegation is bounded: what the caller presented limits what it can make. A credential created or edited by a
 * restricted credential expires no later than it and is limited to addresses inside its masks; a credential
 * without `internal` can neither mint, rotate nor revoke an `internal` one. Signed in with the account password,
 * the caller is unrestricted (and holds `internal` when an administrator).
 */
export function restrictionsOf(principal: Principal): CallerRestrictions {
  const { credential, account } = principal;
  if (!credential) return { expiresAt: null, allowedIps: [], internal: account.role === 'admin' };
  const internal = credential.scopes?.includes('internal') === true
    || (credential.permissionsMode === 'Inherit' && account.role === 'admin');
  return { expiresAt: credential.expiresAt, allowedIps: credential.allowedIps, internal };
}

export const UNRESTRICTED: CallerRestrictions = { expiresAt: null, allowedIps: [], internal: true };

export const INTERNAL_REFUSED = 'Only a credential that holds the internal scope may create, rotate, change or revoke an internal credential';

/** Why `target`'s limits are wider than the caller's (naming the restriction and property), or undefined. */
export function widerThanCaller(caller: CallerRestrictions, target: { expiresAt: number | null; allowedIps: readonly string[] }):
  { property: 'expiresAt' | 'allowedIps'; description: string } | undefined {
  if (caller.expiresAt !== null && (target.expiresAt === null || target.expiresAt > caller.expiresAt)) {
    return { property: 'expiresAt', description: `expiresAt may not be later than your credential's expiry (${formatUtcDate(caller.expiresAt)})` };
  }
  if (caller.allowedIps.length > 0 && (target.allowedIps.length === 0 || !target.allowedIps.every((m) => maskWithin(m, caller.allowedIps)))) {
    return { property: 'allowedIps', description: `allowedIps must lie within your credential's allowedIps (${caller.allowedIps.join(', ')})` };
  }
  return undefined;
}
