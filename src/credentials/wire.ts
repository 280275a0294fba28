import type { CredentialRow } from '../db/store.js';
import type { JsonObject } from '../jmap/types.js';
import { encodeId } from '../util/ids.js';
import { formatUtcDate } from '../util/utcdate.js';

/** What /get shows instead of a secret: the secret itself is only ever in the create response. */
export const SECRET_MASK = '****';

/** A stored credential as the JMAP faces show it; `scopes` (its effective scopes) only on x:AppPassword. */
export function credentialToWire(row: CredentialRow, scopes?: readonly string[]): JsonObject {
  const permissions: JsonObject = { '@type': row.permissionsMode };
  if (row.permissionsMode !== 'Inherit') permissions.permissions = row.permissions;
  const out: JsonObject = {
    id: encodeId(row.id),
    description: row.description,
    secret: SECRET_MASK,
    createdAt: formatUtcDate(row.createdAt),
    expiresAt: row.expiresAt === null ? null : formatUtcDate(row.expiresAt),
    permissions,
    allowedIps: row.allowedIps,
    lastUsedAt: row.lastUsedAt === null ? null : formatUtcDate(row.lastUsedAt),
    lastUsedFrom: row.lastUsedFrom,
    lastUsedService: row.lastUsedService,
  };
  if (scopes) out.scopes = [...scopes];
  return out;
}

/** Sets as {member: true} maps, so patches like `allowedIps/10.0.0.1: true` address one member. */
export function credentialToPatchable(wire: JsonObject): JsonObject {
  const toMap = (list: unknown): JsonObject => Object.fromEntries((list as string[]).map((m) => [m, true]));
  const out: JsonObject = { ...wire, allowedIps: toMap(wire.allowedIps) };
  const perms = wire.permissions as JsonObject;
  out.permissions = perms.permissions === undefined ? { ...perms } : { ...perms, permissions: toMap(perms.permissions) };
  return out;
}
