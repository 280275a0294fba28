import { effectivePermissions, rolePermissions, type PermissionMode } from '../auth/permissions.js';
import type { CredentialRow, Role } from '../db/store.js';

/**
 * REST scopes are named bundles of permissions; the permissions stay the truth.
 * `app` means the account's own rights (Inherit); `internal` is the right to ask the verification endpoint,
 * kept as a scope on the credential (Stalwart has no permission for it) and grantable by admins only.
 */
export const SCOPES = ['smtp', 'pop3', 'imap', 'api:read', 'api:write', 'app', 'internal'] as const;
export type Scope = (typeof SCOPES)[number];

const API_READ = ['sysApiKeyGet', 'sysApiKeyQuery', 'sysAppPasswordGet', 'sysAppPasswordQuery'];
const API_WRITE = [...API_READ, ...['ApiKey', 'AppPassword'].flatMap((o) => ['Create', 'Update', 'Destroy'].map((a) => `sys${o}${a}`))];

const BUNDLES: Record<Exclude<Scope, 'app'>, readonly string[]> = {
  smtp: ['authenticate', 'emailSend'],
  pop3: ['authenticate', 'pop3Authenticate'],
  imap: ['authenticate', 'imapAuthenticate'],
  'api:read': ['authenticate', ...API_READ],
  'api:write': ['authenticate', ...API_WRITE],
  internal: ['authenticate'],
};

/** Mail protocols as mail servers name them, and the scope each needs. */
export const SERVICE_SCOPES: Record<string, Scope> = { imap: 'imap', pop3: 'pop3', smtp: 'smtp', submission: 'smtp' };

/** What a mobile mail client needs: read mail over IMAP and send over SMTP. */
export const MOBILE_SCOPES: Scope[] = ['imap', 'smtp'];
export const PLATFORMS = ['ios', 'android', 'windows', 'macos', 'web'] as const;

export function scopePermissions(scopes: readonly Scope[]): { mode: PermissionMode; list: string[] } {
  if (scopes.includes('app')) return { mode: 'Inherit', list: [] };
  const list = new Set<string>();
  for (const s of scopes) for (const p of BUNDLES[s as Exclude<Scope, 'app'>]) list.add(p);
  return { mode: 'Replace', list: [...list] };
}

/** Scopes shown for a credential made without scopes (on the JMAP face): every bundle its rights cover. */
export function derivedScopes(effective: ReadonlySet<string>, mode: PermissionMode): Scope[] {
  if (mode === 'Inherit') return ['app'];
  return (Object.keys(BUNDLES) as Exclude<Scope, 'app'>[])
    .filter((s) => s !== 'internal' && BUNDLES[s].every((p) => effective.has(p)));
}

/**
 * A credential's scopes as every face shows them and every check reads them: the ones chosen, or, for a
 * credential made with permissions instead, every bundle its rights cover (`effective` = its effective rights).
 */
export function effectiveScopes(c: Pick<CredentialRow, 'scopes' | 'permissionsMode'>, effective: ReadonlySet<string>): string[] {
  return c.scopes ?? derivedScopes(effective, c.permissionsMode);
}

/** effectiveScopes for a credential of an account with this role. */
export function scopesOf(c: Pick<CredentialRow, 'scopes' | 'permissionsMode' | 'permissions'>, role: Role): string[] {
  return c.scopes ?? derivedScopes(effectivePermissions(rolePermissions(role), c.permissionsMode, c.permissions), c.permissionsMode);
}

export const isScope = (s: unknown): s is Scope => typeof s === 'string' && (SCOPES as readonly string[]).includes(s);

/** Whether an app password may be presented as Bearer on the HTTP APIs: only with an API scope. */
export function allowsApi(scopes: readonly string[] | null): boolean {
  return scopes !== null && scopes.some((s) => s === 'api:read' || s === 'api:write' || s === 'app');
}
