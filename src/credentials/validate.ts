import { LIMITS } from './contract.js';
import { normalizeMask } from '../auth/ipmask.js';
import { isPermission, type PermissionMode } from '../auth/permissions.js';
import { isPlainObject, type JsonObject, type JsonValue } from '../jmap/types.js';
import { isCleanLabel } from '../util/text.js';
import { parseUtcDate } from '../util/utcdate.js';
import { isScope, SCOPES, type Scope } from './scopes.js';

export const MAX_DESCRIPTION = LIMITS.descriptionMax;
export const MAX_ALLOWED_IPS = LIMITS.allowedIpsMax;

/** A credential's client-settable properties, validated and normalised. */
export interface CredentialInput {
  description: string;
  expiresAt: number | null;
  permissionsMode: PermissionMode;
  permissions: string[];
  allowedIps: string[];
  /** x:AppPassword only: the scopes given (null = none, rights from permissions); absent when not sent. */
  scopes?: Scope[] | null;
}

/**
 * Sets arrive as arrays (the object's `IpMask[]`, `Permission[]` in spec/x-apikey.json) or as Stalwart's `{"value": true}` maps,
 * where `false` entries are skipped. Returns undefined on any other shape.
 */
export function setMembers(value: JsonValue): string[] | undefined {
  if (Array.isArray(value)) return value.every((x) => typeof x === 'string') ? (value as string[]) : undefined;
  if (isPlainObject(value)) {
    const out: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === true) out.push(k);
      else if (v !== false) return undefined;
    }
    return out;
  }
  return undefined;
}

function parseAllowedIps(value: JsonValue | undefined): string[] | undefined {
  if (value === undefined || value === null) return [];
  const members = setMembers(value);
  if (!members || members.length > MAX_ALLOWED_IPS) return undefined;
  const out = new Set<string>();
  for (const m of members) {
    const mask = normalizeMask(m);
    if (!mask) return undefined;
    out.add(mask);
  }
  return [...out];
}

function parsePermissions(value: JsonValue | undefined): { mode: PermissionMode; list: string[] } | undefined {
  if (value === undefined || value === null) return { mode: 'Inherit', list: [] };
  if (!isPlainObject(value)) return undefined;
  const type = value['@type'];
  if (type === 'Inherit') return Object.keys(value).length === 1 ? { mode: 'Inherit', list: [] } : undefined;
  if (type !== 'Disable' && type !== 'Replace') return undefined;
  if (Object.keys(value).some((k) => k !== '@type' && k !== 'permissions')) return undefined;
  const members = value.permissions === undefined ? [] : setMembers(value.permissions);
  if (!members || !members.every(isPermission)) return undefined;
  return { mode: type, list: [...new Set(members)] };
}

/** The rule each property breaks, for invalidProperties descriptions: say what a good value looks like. */
export const RULES: Record<string, string> = {
  description: `description must be a string of 1 to ${MAX_DESCRIPTION} characters, not only spaces`,
  expiresAt: 'expiresAt must be null or a UTCDate such as 2027-01-01T00:00:00Z (UTC, whole seconds, a Z at the end)',
  permissions: 'permissions must be {"@type":"Inherit"}, or {"@type":"Disable"|"Replace","permissions":[…]} with names from the permission list',
  allowedIps: `allowedIps must be a list of at most ${MAX_ALLOWED_IPS} IP addresses or CIDR masks (prefix 8 or more)`,
  scopes: `scopes must be null or a non-empty list of: ${SCOPES.join(', ')}`,
};

/** One description naming the rule of every invalid property. */
export function describeInvalid(invalid: readonly string[]): string {
  return invalid.map((p) => RULES[p] ?? `${p} is not a property that can be set`).join('; ');
}

/** Checks every property and names all the invalid ones at once (RFC 8620 §5.3 invalidProperties). */
export function checkCredential(input: JsonObject): { ok: true; value: CredentialInput } | { ok: false; invalid: string[] } {
  const invalid: string[] = [];
  const { description } = input;
  if (typeof description !== 'string' || description.trim().length === 0 || description.length > MAX_DESCRIPTION || !isCleanLabel(description)) invalid.push('description');

  let expiresAt: number | null = null;
  if (input.expiresAt !== undefined && input.expiresAt !== null) {
    const parsed = typeof input.expiresAt === 'string' ? parseUtcDate(input.expiresAt) : undefined;
    if (parsed === undefined) invalid.push('expiresAt');
    else expiresAt = parsed;
  }
  const permissions = parsePermissions(input.permissions);
  if (!permissions) invalid.push('permissions');
  const allowedIps = parseAllowedIps(input.allowedIps);
  if (!allowedIps) invalid.push('allowedIps');

  let scopes: Scope[] | null | undefined;
  if (input.scopes === null) scopes = null;
  else if (input.scopes !== undefined) {
    const list = input.scopes;
    if (Array.isArray(list) && list.length > 0 && list.every(isScope)) scopes = [...new Set(list)];
    else invalid.push('scopes');
  }

  if (invalid.length > 0 || !permissions || !allowedIps) return { ok: false, invalid };
  const value: CredentialInput = { description: description as string, expiresAt, permissionsMode: permissions.mode, permissions: permissions.list, allowedIps };
  if (scopes !== undefined) value.scopes = scopes;
  return { ok: true, value };
}
