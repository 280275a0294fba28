import { auditedCredential, type Actor } from '../audit/record.js';
import type { TokenHasher } from '../auth/tokens.js';
import type { CredentialRow, Store } from '../db/store.js';
import { nowSeconds } from '../util/utcdate.js';

/**
 * A full-rights (Inherit, no IP restriction) API key for an account: the first admin key or a recovery key.
 * Audited; run it inside a transaction.
 */
export function issueAccountKey(store: Store, hasher: TokenHasher, accountId: number, description: string, expiresAt: number | null = null, actor?: Actor): { row: CredentialRow; token: string } {
  const issued = hasher.issue('apiKey');
  const row = store.insertCredential({
    accountId, kind: 'apiKey', description, locator: issued.locator, secretHash: issued.hash, createdAt: nowSeconds(),
    expiresAt, permissionsMode: 'Inherit', permissions: [], allowedIps: [], scopes: null, platform: null, deviceId: null,
  });
  auditedCredential(store, row, 'credential.created', actor);
  return { row, token: issued.token };
}
