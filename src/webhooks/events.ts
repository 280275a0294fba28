import { createHash } from 'node:crypto';
import type { AuditRow, CredentialKind, CredentialRow, NewWebhookDelivery } from '../db/store.js';
import { encodeId } from '../util/ids.js';
import { formatUtcDate } from '../util/utcdate.js';

/** The notifications a receiver gets (the `type` of each payload). */
export type WebhookType =
  | 'credential.created' | 'credential.rotated' | 'credential.revoked' | 'credential.leaked'
  | 'credential.expiring' | 'credential.expired' | 'credential.newAddress';
export const WEBHOOK_TYPES: readonly WebhookType[] = [
  'credential.created', 'credential.rotated', 'credential.revoked', 'credential.leaked',
  'credential.expiring', 'credential.expired', 'credential.newAddress',
];

/** How far ahead a credential's expiry is announced. */
export const EXPIRING_WITHIN = 7 * 86_400;

/**
 * The webhook type of an audit event, or undefined for events that are not notified. Keyed by string: a leak
 * report may be its own audit type ('credential.leaked') or a destruction that says why.
 */
export function webhookTypeOf(e: AuditRow): WebhookType | undefined {
  const type: string = e.type;
  if (type === 'credential.created' || type === 'credential.rotated') return type;
  if (type === 'credential.leaked') return 'credential.leaked';
  if (type === 'credential.destroyed') return e.details.reason === 'leaked' || e.details.leaked === true ? 'credential.leaked' : 'credential.revoked';
  return undefined;
}

interface CredentialRef { id: number; kind: CredentialKind | null; description?: unknown; expiresAt?: unknown }

/** The credential as payloads show it: wire ids and dates, never its secret or hash. */
function credentialPart(c: CredentialRef): Record<string, unknown> {
  const expiresAt = typeof c.expiresAt === 'number' ? formatUtcDate(c.expiresAt) : c.expiresAt ?? null;
  return { id: encodeId(c.id), kind: c.kind, description: c.description ?? null, expiresAt };
}

const accountPart = (id: number | null, login: string | null) => ({ id: id === null ? null : encodeId(id), login });

function delivery(eventId: string, type: WebhookType, at: number, data: Record<string, unknown>, due: number): NewWebhookDelivery {
  const payload = JSON.stringify({ type, timestamp: formatUtcDate(at), data });
  return { eventId, type, payload, createdAt: due, nextAttemptAt: due };
}

/** The delivery for an audit event (its details never hold a secret: see src/audit/record.ts). */
export function auditDelivery(e: AuditRow, type: WebhookType, login: string | null, now: number): NewWebhookDelivery {
  const credential = e.credentialId === null ? null : credentialPart({
    id: e.credentialId, kind: e.credentialKind, description: e.details.description, expiresAt: e.details.expiresAt,
  });
  return delivery(`msg_audit_${e.id}`, type, e.at, {
    account: accountPart(e.accountId, login),
    credential,
    actor: {
      accountId: e.actorAccountId === null ? null : encodeId(e.actorAccountId),
      credentialId: e.actorCredentialId === null ? null : encodeId(e.actorCredentialId),
      clientAddress: e.clientAddress, via: e.via,
    },
    auditEventId: encodeId(e.id),
    details: e.details,
  }, now);
}

/** An expiry coming within EXPIRING_WITHIN, or passed: one per credential and expiry time. */
export function expiryDelivery(type: 'credential.expiring' | 'credential.expired', c: CredentialRow, login: string | null, now: number): NewWebhookDelivery {
  const kind = type === 'credential.expiring' ? 'expiring' : 'expired';
  return delivery(`msg_${kind}_${c.id}_${c.expiresAt}`, type, now, { account: accountPart(c.accountId, login), credential: credentialPart(c) }, now);
}

/** A credential used from an address it was never used from (as far as the notes go back). */
export function addressDelivery(c: CredentialRow, login: string, address: string, now: number): NewWebhookDelivery {
  const tag = createHash('sha256').update(address).digest('hex').slice(0, 24);
  return delivery(`msg_address_${c.id}_${tag}`, 'credential.newAddress', now, {
    account: accountPart(c.accountId, login), credential: credentialPart(c), address,
  }, now);
}
