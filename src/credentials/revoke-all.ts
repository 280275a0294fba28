import { auditedCredential, type Actor } from '../audit/record.js';
import type { CredentialKind, CredentialRow, StoreOps } from '../db/store.js';

export type RevokeAllReason = 'revokeAll' | 'passwordChange';

export interface RevokeAllResult {
  revoked: CredentialRow[];
  /** Left alone: `internal` ones the caller may not touch, and the one it is using unless asked. */
  kept: { row: CredentialRow; why: 'internal' | 'current' }[];
}

/**
 * Revokes every credential of `kind` of an account, inside the caller's transaction `tx`. Each deletion goes through
 * the store (change log and node notification: every node refuses them at once) and gets its own
 * `credential.destroyed` audit event, marked with `details.revokedBy`, so the Activity of each credential shows it.
 */
export async function revokeAll(tx: StoreOps, o: {
  accountId: number; kind: CredentialKind; reason: RevokeAllReason;
  /** Whether the caller holds `internal` (may revoke credentials that hold it). */
  internal: boolean;
  /** The credential the caller authenticated with: kept unless it is null (then nothing is kept for that reason). */
  spare: number | null;
  actor: Actor;
}): Promise<RevokeAllResult> {
  const result: RevokeAllResult = { revoked: [], kept: [] };
  for (const row of await tx.credentials(o.accountId, o.kind, null)) {
    if (row.id === o.spare) result.kept.push({ row, why: 'current' });
    else if (row.scopes?.includes('internal') && !o.internal) result.kept.push({ row, why: 'internal' });
    else if (await tx.deleteCredential(o.accountId, o.kind, row.id)) {
      await auditedCredential(tx, row, 'credential.destroyed', o.actor, { revokedBy: o.reason });
      result.revoked.push(row);
    }
  }
  return result;
}
