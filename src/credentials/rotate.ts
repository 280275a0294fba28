import { audit, type Actor } from '../audit/record.js';
import type { TokenHasher } from '../auth/tokens.js';
import { OVER_QUOTA, type CredentialKind, type CredentialRow, type StoreOps } from '../db/store.js';
import type { CallerRestrictions } from '../jmap/types.js';
import { encodeId } from '../util/ids.js';
import { formatUtcDate, nowSeconds } from '../util/utcdate.js';
import { describeUngrantable, INTERNAL_REFUSED, ungrantable, widerThanCaller } from './policy.js';

/** The longest overlap a rotation may leave: 7 days. */
export const MAX_GRACE_SECONDS = 7 * 24 * 60 * 60;

/** Who rotates: its rights and the limits of the credential it presented (every face has both). */
export interface Rotator {
  permissions: ReadonlySet<string>;
  restrictions: CallerRestrictions;
}

export type RotateRefusal = { refused: 'notFound' | 'forbidden' | 'overQuota'; description: string };

export interface Rotated {
  /** The new credential and its secret (shown once). */
  row: CredentialRow;
  token: string;
  previousId: number;
  /** Until when the old secret works (unix seconds): the rotation time itself when it was revoked at once. */
  previousExpiresAt: number;
}

/**
 * Issues a new secret for credential `id` (same description, rights, scopes and limits) and retires the old one,
 * inside the caller's transaction `tx`. With no grace the old one is destroyed; with a grace its expiresAt is brought
 * forward to min(now + grace, its own expiry), so it then dies by the ordinary expiry check on every node (nothing is
 * kept in memory, nothing has to run when the grace ends). While both live both count against the quota.
 */
export async function rotateCredential(tx: StoreOps, o: {
  hasher: TokenHasher; quota: number; noun: string; caller: Rotator; accountId: number; kind: CredentialKind; id: number;
  graceSeconds: number; actor: Actor;
}): Promise<RotateRefusal | Rotated> {
  const old = (await tx.credentials(o.accountId, o.kind, [o.id]))[0];
  if (!old) return { refused: 'notFound', description: `No ${o.noun.replace(/s$/, '')} with this id` };
  // The same rules as creating it anew: no wider limits, no rights the caller lacks, `internal` only by `internal`.
  if (old.scopes?.includes('internal') && !o.caller.restrictions.internal) return { refused: 'forbidden', description: INTERNAL_REFUSED };
  const wider = widerThanCaller(o.caller.restrictions, old);
  if (wider) return { refused: 'forbidden', description: wider.description };
  const missing = await ungrantable(tx, o.caller.permissions, old.accountId, old.permissionsMode, old.permissions);
  if (missing.length > 0) return { refused: 'forbidden', description: describeUngrantable(missing) };

  const now = nowSeconds();
  const until = old.expiresAt === null ? now + o.graceSeconds : Math.min(now + o.graceSeconds, old.expiresAt);
  // An overlap only when the old one would still work after now; otherwise it goes at once.
  const overlap = o.graceSeconds > 0 && until > now;
  const issued = o.hasher.issue(o.kind);
  const row = await tx.insertCredential({
    accountId: old.accountId, kind: old.kind, description: old.description, locator: issued.locator, secretHash: issued.hash,
    createdAt: now, expiresAt: old.expiresAt, permissionsMode: old.permissionsMode, permissions: old.permissions,
    allowedIps: old.allowedIps, scopes: old.scopes, platform: old.platform, deviceId: old.deviceId,
  }, o.quota, overlap ? 0 : 1);
  if (row === OVER_QUOTA) {
    return {
      refused: 'overQuota',
      description: overlap
        ? `You have reached your quota of ${o.quota} ${o.noun}: during a grace period the old and the new one both count. Rotate without a grace period, or revoke another one first.`
        : `You have exceeded your quota of ${o.quota} ${o.noun}.`,
    };
  }
  const previousExpiresAt = overlap ? until : Math.min(now, old.expiresAt ?? now);
  // Both writes go through the store's change log and node notification: every node sees the new expiry at once.
  if (overlap) await tx.updateCredential(old.accountId, old.kind, old.id, { expiresAt: until });
  else await tx.deleteCredential(old.accountId, old.kind, old.id);
  await audit(tx, {
    type: 'credential.rotated', accountId: row.accountId, credentialId: row.id, credentialKind: row.kind,
    details: { description: row.description, previousId: encodeId(old.id), graceSeconds: overlap ? o.graceSeconds : 0, previousExpiresAt: formatUtcDate(previousExpiresAt) },
  }, o.actor);
  return { row, token: issued.token, previousId: old.id, previousExpiresAt };
}

/** `30m`, `1h`, `7d`, `90s` or plain seconds → seconds within 0..MAX_GRACE_SECONDS; undefined when not one. */
export function parseGrace(text: string): number | undefined {
  const m = /^(0|[1-9][0-9]{0,6})([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(m[1]) * unit;
  return seconds <= MAX_GRACE_SECONDS ? seconds : undefined;
}
