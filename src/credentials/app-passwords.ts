import { auditedCredential, type Actor } from '../audit/record.js';
import type { Principal } from '../auth/authenticator.js';
import type { TokenHasher } from '../auth/tokens.js';
import { OVER_QUOTA, type CredentialRow, type NewCredential, type Store, type StoreOps } from '../db/store.js';
import { decodeId, encodeId } from '../util/ids.js';
import { formatUtcDate, nowSeconds } from '../util/utcdate.js';
import { describeUngrantable, INTERNAL_REFUSED, restrictionsOf, ungrantable, widerThanCaller } from './policy.js';
import { rotateCredential } from './rotate.js';
import { scopePermissions, scopesOf, type Scope } from './scopes.js';

/** An app password as the REST face shows it (the SMTP Credentials API shape README.md shows, plus platform and deviceId for mobile keys). */
export interface RestKey {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Client address and service (jmap, rest, imap, pop3, smtp) of the newest recorded use. */
  lastUsedFrom: string | null;
  lastUsedService: string | null;
  isActive: boolean;
  scopes: string[];
  expiresAt?: string | null;
  platform?: string;
  deviceId?: string;
}

export type Refusal = { status: 403; error: 'forbidden' | 'over_quota'; message: string } | { status: 404; error: 'not_found'; message: string };

export function toRestKey(row: CredentialRow, account: { role: 'admin' | 'user' }, now = nowSeconds()): RestKey {
  const key: RestKey = {
    id: encodeId(row.id),
    name: row.description,
    createdAt: formatUtcDate(row.createdAt),
    lastUsedAt: row.lastUsedAt === null ? null : formatUtcDate(row.lastUsedAt),
    lastUsedFrom: row.lastUsedFrom,
    lastUsedService: row.lastUsedService,
    isActive: row.expiresAt === null || row.expiresAt > now,
    scopes: scopesOf(row, account.role),
  };
  if (row.expiresAt !== null) key.expiresAt = formatUtcDate(row.expiresAt);
  if (row.platform !== null) key.platform = row.platform;
  if (row.deviceId !== null) key.deviceId = row.deviceId;
  return key;
}

/** App-password operations of the REST face, over the same store and rules as x:AppPassword. */
export class AppPasswords {
  constructor(private readonly store: Store, private readonly hasher: TokenHasher, private readonly quota: number) {}

  async list(principal: Principal): Promise<RestKey[]> {
    const now = nowSeconds();
    return (await this.store.credentials(principal.account.id, 'appPassword', null))
      .filter((r) => r.expiresAt === null || r.expiresAt > now)
      .sort((a, b) => b.id - a.id)
      .map((r) => toRestKey(r, principal.account, now));
  }

  async find(principal: Principal, keyId: string): Promise<CredentialRow | undefined> {
    const id = decodeId(keyId);
    return id === undefined ? undefined : (await this.store.credentials(principal.account.id, 'appPassword', [id]))[0];
  }

  async create(principal: Principal, actor: Actor, input: { name: string; scopes: Scope[]; expiresAt?: number | null; allowedIps?: string[]; platform?: string; deviceId?: string }): Promise<Refusal | { key: RestKey; token: string }> {
    const bounds = restrictionsOf(principal);
    if (input.scopes.includes('internal') && !bounds.internal) return { status: 403, error: 'forbidden', message: INTERNAL_REFUSED };
    const { mode, list } = scopePermissions(input.scopes);
    // Unless given, a restricted caller's key inherits its expiry and IP masks; given, they may not be wider.
    const expiresAt = input.expiresAt !== undefined ? input.expiresAt : bounds.expiresAt;
    const allowedIps = input.allowedIps !== undefined ? [...new Set(input.allowedIps)] : [...bounds.allowedIps];
    const wider = widerThanCaller(bounds, { expiresAt, allowedIps });
    if (wider) return { status: 403, error: 'forbidden', message: wider.description };
    return this.store.transaction((tx) => this.issue(tx, principal, actor, {
      accountId: principal.account.id, kind: 'appPassword', description: input.name, expiresAt,
      permissionsMode: mode, permissions: list, allowedIps, scopes: [...new Set(input.scopes)],
      platform: input.platform ?? null, deviceId: input.deviceId ?? null,
    }));
  }

  /**
   * New secret, same name, scopes and restrictions (src/credentials/rotate.ts): the old one revoked in the same
   * transaction, or with `graceSeconds` kept working until min(now + grace, its own expiry).
   */
  async rotate(principal: Principal, actor: Actor, old: CredentialRow, graceSeconds = 0): Promise<Refusal | { key: RestKey; token: string; previousId: string; previousExpiresAt: string }> {
    const done = await this.store.transaction((tx) => rotateCredential(tx, {
      hasher: this.hasher, quota: this.quota, noun: 'app passwords', caller: { permissions: principal.permissions, restrictions: restrictionsOf(principal) },
      accountId: old.accountId, kind: 'appPassword', id: old.id, graceSeconds, actor,
    }));
    if ('refused' in done) {
      return done.refused === 'notFound' ? { status: 404, error: 'not_found', message: 'No such key' }
        : { status: 403, error: done.refused === 'overQuota' ? 'over_quota' : 'forbidden', message: done.description };
    }
    return { key: toRestKey(done.row, principal.account), token: done.token, previousId: encodeId(done.previousId), previousExpiresAt: formatUtcDate(done.previousExpiresAt) };
  }

  async revoke(principal: Principal, actor: Actor, row: CredentialRow): Promise<Refusal | boolean> {
    if (row.scopes?.includes('internal') && !restrictionsOf(principal).internal) return { status: 403, error: 'forbidden', message: INTERNAL_REFUSED };
    return this.store.transaction(async (tx) => {
      const done = await tx.deleteCredential(row.accountId, 'appPassword', row.id);
      if (done) await auditedCredential(tx, row, 'credential.destroyed', actor);
      return done;
    });
  }

  /** Issues a credential and records it; run inside a transaction. */
  private async issue(store: StoreOps, principal: Principal, actor: Actor, base: Omit<NewCredential, 'locator' | 'secretHash' | 'createdAt'>): Promise<Refusal | { key: RestKey; token: string }> {
    const missing = await ungrantable(store, principal.permissions, base.accountId, base.permissionsMode, base.permissions);
    if (missing.length > 0) return { status: 403, error: 'forbidden', message: describeUngrantable(missing) };
    const issued = this.hasher.issue('appPassword');
    const row = await store.insertCredential({ ...base, locator: issued.locator, secretHash: issued.hash, createdAt: nowSeconds() }, this.quota);
    if (row === OVER_QUOTA) return { status: 403, error: 'over_quota', message: `You have exceeded your quota of ${this.quota} app passwords.` };
    await auditedCredential(store, row, 'credential.created', actor);
    return { key: toRestKey(row, principal.account), token: issued.token };
  }
}
