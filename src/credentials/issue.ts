import { auditedCredential, type Actor } from '../audit/record.js';
import type { TokenHasher } from '../auth/tokens.js';
import { OVER_QUOTA, type CredentialRow, type StoreOps } from '../db/store.js';
import { nowSeconds } from '../util/utcdate.js';

/**
 * A full-rights (Inherit, no IP restriction) API key for an account: the first admin key or a recovery key.
 * Audited; run it inside a transaction. undefined when the account already holds `quota` API keys.
 */
export async function issueAccountKey(store: StoreOps, hasher: TokenHasher, accountId: number, description: string, actor: Actor,
  expiresAt: number | null = null, quota = Number.MAX_SAFE_INTEGER): Promise<{ row: CredentialRow; token: string } | undefined> {
  const issued = hasher.issue('apiKey');
  const row = await store.insertCredential({
    accountId, kind: 'apiKey', description, locator: issued.locator, secretHash: issued.hash, createdAt: nowSeconds(),
    expiresAt, permissionsMode: 'Inherit', permissions: [], allowedIps: [], scopes: null, platform: null, deviceId: null,
  }, quota);
  if (row === OVER_QUOTA) return undefined;
  await auditedCredential(store, row, 'credential.created', actor);
  return { row, token: issued.token };
}
