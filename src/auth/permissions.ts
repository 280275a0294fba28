import { readFileSync } from 'node:fs';
import type { Role } from '../db/store.js';

/** Every permission name Stalwart knows (the 660 lines of permissions.txt beside this file), in its enum order. */
export const ALL_PERMISSIONS: readonly string[] = readFileSync(new URL('./permissions.txt', import.meta.url), 'utf8')
  .split('\n').map((l) => l.trim()).filter(Boolean);
const KNOWN = new Set(ALL_PERMISSIONS);

export function isPermission(name: string): boolean {
  return KNOWN.has(name);
}

const CREDENTIAL_PERMISSIONS = ['ApiKey', 'AppPassword'].flatMap((o) =>
  ['Get', 'Create', 'Update', 'Destroy', 'Query'].map((a) => `sys${o}${a}`));

/** A default user: can log in, manage its own credentials and use the mail protocols they unlock. */
const USER_PERMISSIONS = [
  'authenticate', 'emailSend', 'emailReceive', 'imapAuthenticate', 'pop3Authenticate', 'jmapCoreEcho',
  ...CREDENTIAL_PERMISSIONS,
];

const ROLE_PERMISSIONS: Record<Role, ReadonlySet<string>> = {
  admin: KNOWN,
  user: new Set(USER_PERMISSIONS),
};

export function rolePermissions(role: Role): ReadonlySet<string> {
  return ROLE_PERMISSIONS[role];
}

export type PermissionMode = 'Inherit' | 'Disable' | 'Replace';

/** Effective rights of a credential: Inherit = account; Disable = account − list; Replace = list ∩ account. */
export function effectivePermissions(account: ReadonlySet<string>, mode: PermissionMode, list: readonly string[]): ReadonlySet<string> {
  // The account's own set, not a copy: this runs on every authenticated request (660 names for an admin).
  if (mode === 'Inherit') return account;
  if (mode === 'Disable') {
    const out = new Set(account);
    for (const p of list) out.delete(p);
    return out;
  }
  return new Set(list.filter((p) => account.has(p)));
}
