import { audit, auditedCredential } from '../audit/record.js';
import type { Principal } from '../auth/authenticator.js';
import { effectivePermissions, rolePermissions } from '../auth/permissions.js';
import type { TokenHasher } from '../auth/tokens.js';
import type { CredentialRow, NewCredential, Store } from '../db/store.js';
import { decodeId, encodeId } from '../util/ids.js';
import { formatUtcDate, nowSeconds } from '../util/utcdate.js';
import { describeUngrantable, ungrantable } from './policy.js';
import { derivedScopes, scopePermissions, type Scope } from './scopes.js';

/** An app password as the REST face shows it (the seed page's shape, plus platform and deviceId for mobile keys). */
export interface RestKey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  isActive: boolean;
  scopes: string[];
  expiresAt?: string | null;
  platform?: string;
  deviceId?: string;
}

export type Refusal = { status: 403; error: 'forbidden' | 'over_quota'; message: string };

export function toRestKey(row: CredentialRow, account: { role: 'admin' | 'user' }, now = nowSeconds()): RestKey {
  const effective = effectivePermissions(rolePermissions(account.role), row.permissionsMode, row.permissions);
  const key: RestKey = {
    id: encodeId(row.id),
    name: row.description,
    createdAt: formatUtcDate(row.createdAt),
    lastUsedAt: row.lastUsedAt === null ? null : formatUtcDate(row.lastUsedAt),
    isActive: row.expiresAt === null || row.expiresAt > now,
    scopes: row.scopes ?? derivedScopes(effective, row.permissionsMode),
  };
  if (row.expiresAt !== null) key.expiresAt = formatUtcDate(row.expiresAt);
  if (row.platform !== null) key.platform = row.platform;
  if (row.deviceId !== null) key.deviceId = row.deviceId;
  return key;
}

/** App-password operations of the REST face, over the same store and rules as x:AppPassword. */
export class AppPasswords {
  constructor(private readonly store: Store, private readonly hasher: TokenHasher, private readonly quota: number) {}

  list(principal: Principal): RestKey[] {
    const now = nowSeconds();
    return this.store.credentials(principal.account.id, 'appPassword', null)
      .filter((r) => r.expiresAt === null || r.expiresAt > now)
      .sort((a, b) => b.id - a.id)
      .map((r) => toRestKey(r, principal.account, now));
  }

  find(principal: Principal, keyId: string): CredentialRow | undefined {
    const id = decodeId(keyId);
    return id === undefined ? undefined : this.store.credentials(principal.account.id, 'appPassword', [id])[0];
  }

  create(principal: Principal, input: { name: string; scopes: Scope[]; platform?: string; deviceId?: string }): Refusal | { key: RestKey; token: string } {
    if (input.scopes.includes('internal') && principal.account.role !== 'admin') {
      return { status: 403, error: 'forbidden', message: 'Only administrators may grant the internal scope' };
    }
    const { mode, list } = scopePermissions(input.scopes);
    return this.store.transaction(() => this.issue(principal, {
      accountId: principal.account.id, kind: 'appPassword', description: input.name, expiresAt: null,
      permissionsMode: mode, permissions: list, allowedIps: [], scopes: [...new Set(input.scopes)],
      platform: input.platform ?? null, deviceId: input.deviceId ?? null,
    }));
  }

  /** New secret, same name, scopes and restrictions; the old one revoked in the same transaction. */
  rotate(principal: Principal, old: CredentialRow): Refusal | { key: RestKey; token: string } {
    return this.store.transaction(() => {
      const result = this.issue(principal, {
        accountId: old.accountId, kind: 'appPassword', description: old.description, expiresAt: old.expiresAt,
        permissionsMode: old.permissionsMode, permissions: old.permissions, allowedIps: old.allowedIps,
        scopes: old.scopes, platform: old.platform, deviceId: old.deviceId,
      }, 1, old.id);
      if ('key' in result) this.store.deleteCredential(old.accountId, 'appPassword', old.id);
      return result;
    });
  }

  revoke(row: CredentialRow): boolean {
    return this.store.transaction(() => {
      const done = this.store.deleteCredential(row.accountId, 'appPassword', row.id);
      if (done) auditedCredential(this.store, row, 'credential.destroyed');
      return done;
    });
  }

  /** Issues a credential and records it (as a rotation of `rotates` when given); run inside a transaction. */
  private issue(principal: Principal, base: Omit<NewCredential, 'locator' | 'secretHash' | 'createdAt'>, replacing = 0, rotates?: number): Refusal | { key: RestKey; token: string } {
    const missing = ungrantable(this.store, principal.permissions, base.accountId, base.permissionsMode, base.permissions);
    if (missing.length > 0) return { status: 403, error: 'forbidden', message: describeUngrantable(missing) };
    if (this.store.countCredentials(base.accountId, 'appPassword') - replacing >= this.quota) {
      return { status: 403, error: 'over_quota', message: `You have exceeded your quota of ${this.quota} app passwords.` };
    }
    const issued = this.hasher.issue('appPassword');
    const row = this.store.insertCredential({ ...base, locator: issued.locator, secretHash: issued.hash, createdAt: nowSeconds() });
    if (rotates === undefined) auditedCredential(this.store, row, 'credential.created');
    else audit(this.store, { type: 'credential.rotated', accountId: row.accountId, credentialId: row.id, credentialKind: row.kind, details: { description: row.description, previousId: encodeId(rotates) } });
    return { key: toRestKey(row, principal.account), token: issued.token };
  }
}
