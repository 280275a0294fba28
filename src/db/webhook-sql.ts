import type { WebhookDelivery } from './store.js';

/** SQL text both engines share for the webhook outbox and credential notes (portable; `?` placeholders). */

export const CLAIM_COLUMNS = 'id, event_id, type, payload, created_at, attempts, next_attempt_at, claimed_until';

export interface RawWebhookDelivery {
  id: number | string; event_id: string; type: string; payload: string; created_at: number | string; attempts: number;
  next_attempt_at: number | string; claimed_until: number | string;
}

/** PostgreSQL hands bigint columns back as strings: numbers here, as on SQLite. */
export function toWebhookDelivery(r: RawWebhookDelivery): WebhookDelivery {
  return {
    id: Number(r.id), eventId: r.event_id, type: r.type, payload: r.payload, createdAt: Number(r.created_at), attempts: r.attempts,
    nextAttemptAt: Number(r.next_attempt_at), claimedUntil: Number(r.claimed_until),
  };
}

export function toBacklog(r: Record<'pending' | 'delivered' | 'failed', number | string | null> | undefined) {
  return { pending: Number(r?.pending ?? 0), delivered: Number(r?.delivered ?? 0), failed: Number(r?.failed ?? 0) };
}

export const WEBHOOK_BACKLOG = `SELECT
    sum(CASE WHEN next_attempt_at IS NOT NULL THEN 1 ELSE 0 END) AS pending,
    sum(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) AS delivered,
    sum(CASE WHEN next_attempt_at IS NULL AND delivered_at IS NULL THEN 1 ELSE 0 END) AS failed
  FROM webhook_deliveries`;

/**
 * The note, when new and its credential still exists (a credential destroyed meanwhile is not an error): one
 * statement, so of nodes noting the same thing at once one inserts it. Parameters: id, topic, value, at, id.
 */
export const NOTE_ONCE = `INSERT INTO credential_notes (credential_id, topic, value, at)
  SELECT CAST(? AS bigint), CAST(? AS text), CAST(? AS text), CAST(? AS bigint)
  WHERE EXISTS (SELECT 1 FROM credentials WHERE id = CAST(? AS bigint))
  ON CONFLICT (credential_id, topic, value) DO NOTHING`;
