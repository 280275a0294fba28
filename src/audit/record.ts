import type { AuditType, CredentialKind, CredentialRow, StoreOps } from '../db/store.js';
import type { Caller } from '../jmap/types.js';
import type { RequestInfo } from '../request-context.js';
import { decodeId } from '../util/ids.js';
import { nowSeconds } from '../util/utcdate.js';

/** Who did something: the request's authenticated caller, or the CLI, or the server itself. */
export interface Actor {
  accountId: number | null;
  credentialId: number | null;
  clientAddress: string | null;
  via: string;
}

export const CLI_ACTOR: Actor = { accountId: null, credentialId: null, clientAddress: null, via: 'cli' };

/** The server itself (bootstrap, timers). */
export const SERVER_ACTOR: Actor = { accountId: null, credentialId: null, clientAddress: null, via: 'server' };

/** The authenticated caller of an HTTP request (undefined: not through the server's app, the server itself). */
export function requestActor(req: RequestInfo | undefined): Actor {
  if (!req) return SERVER_ACTOR;
  return { accountId: req.accountId ?? null, credentialId: req.credentialId ?? null, clientAddress: req.clientIp ?? null, via: req.face };
}

/** The caller of a JMAP method (its origin is the request's, set by the JMAP route). */
export function callerActor(caller: Caller): Actor {
  const o = caller.origin;
  return { accountId: decodeId(caller.accountId) ?? null, credentialId: o?.credentialId ?? null, clientAddress: o?.clientIp ?? null, via: o?.via ?? 'jmap' };
}

export interface AuditInput {
  type: AuditType;
  accountId: number | null;
  credentialId?: number | null;
  credentialKind?: CredentialKind | null;
  /** What changed: names and non-secret values only. */
  details?: Record<string, unknown>;
}

/** Appends one audit event; call it inside the store transaction of the change it describes. */
export async function audit(store: StoreOps, event: AuditInput, actor: Actor): Promise<void> {
  await store.appendAudit({
    at: nowSeconds(), type: event.type, accountId: event.accountId, credentialId: event.credentialId ?? null,
    credentialKind: event.credentialKind ?? null, actorAccountId: actor.accountId, actorCredentialId: actor.credentialId,
    clientAddress: actor.clientAddress, via: actor.via, details: event.details ?? {},
  });
}

/** The non-secret description of a credential for a created/destroyed event. */
export function credentialDetails(row: Pick<CredentialRow, 'description' | 'expiresAt' | 'permissionsMode' | 'permissions' | 'allowedIps' | 'scopes'>): Record<string, unknown> {
  return {
    description: row.description, expiresAt: row.expiresAt, permissionsMode: row.permissionsMode,
    permissions: row.permissions, allowedIps: row.allowedIps, scopes: row.scopes,
  };
}

/** Create + audit in one transaction. */
export async function auditedCredential(store: StoreOps, row: CredentialRow, type: 'credential.created' | 'credential.destroyed', actor: Actor, extra: Record<string, unknown> = {}): Promise<void> {
  await audit(store, { type, accountId: row.accountId, credentialId: row.id, credentialKind: row.kind, details: { ...credentialDetails(row), ...extra } }, actor);
}
