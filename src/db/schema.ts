import { sqliteTable, integer, text, blob, index, primaryKey, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Accounts own credentials; `role` maps to a permission set (see src/auth/permissions.ts). */
export const accounts = sqliteTable('accounts', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  login: text('login').notNull(),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ['admin', 'user'] }).notNull(),
  createdAt: integer('created_at').notNull(),
  /** The account's mail address, lower-cased on write; a second name it logs in with (mail clients send it). */
  email: text('email'),
}, (t) => [uniqueIndex('accounts_login').on(t.login), uniqueIndex('accounts_email').on(t.email)]);

/**
 * One table for every credential kind (API keys, app passwords): one store, several faces.
 * AUTOINCREMENT so an id is never reused after a destroy (RFC 8620 §1.6.3).
 * Dates are unix seconds; set-valued columns hold JSON arrays.
 */
export const credentials = sqliteTable('credentials', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  accountId: integer('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
  kind: text('kind', { enum: ['apiKey', 'appPassword'] }).notNull(),
  description: text('description').notNull(),
  /** Non-secret public part of the token, for O(1) lookup before the constant-time hash compare. */
  locator: text('locator').notNull(),
  /** HMAC-SHA256(server secret, full token). The token itself is never stored. */
  secretHash: blob('secret_hash', { mode: 'buffer' }).notNull(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at'),
  permissionsMode: text('permissions_mode', { enum: ['Inherit', 'Disable', 'Replace'] }).notNull(),
  permissions: text('permissions').notNull().default('[]'),
  allowedIps: text('allowed_ips').notNull().default('[]'),
  /** REST scopes as the user chose them (null for keys made without scopes). */
  scopes: text('scopes'),
  platform: text('platform'),
  deviceId: text('device_id'),
  lastUsedAt: integer('last_used_at'),
  /** Client address and service of the newest recorded use, written with last_used_at (drizzle/0008). */
  lastUsedFrom: text('last_used_from'),
  lastUsedService: text('last_used_service', { enum: ['jmap', 'rest', 'imap', 'pop3', 'smtp'] }),
}, (t) => [
  uniqueIndex('credentials_locator').on(t.locator),
  index('credentials_expires').on(t.accountId, t.kind, t.expiresAt),
  /** Every account's credentials by expiry: the webhook expiry scan (drizzle/0009_webhooks.sql). */
  index('credentials_expiry_scan').on(t.expiresAt),
  index('credentials_created').on(t.accountId, t.kind, t.createdAt),
  index('credentials_description').on(t.accountId, t.kind, t.description),
]);

/** Per-account change log behind JMAP state strings, /changes and /queryChanges. */
export const changes = sqliteTable('changes', {
  seq: integer('seq').primaryKey({ autoIncrement: true }),
  accountId: integer('account_id').notNull(),
  kind: text('kind').notNull(),
  recordId: integer('record_id').notNull(),
  op: text('op', { enum: ['created', 'updated', 'destroyed'] }).notNull(),
}, (t) => [index('changes_account').on(t.accountId, t.kind, t.seq)]);

/**
 * Web page sign-ins (src/web/session.ts): one row per sign-in, kept across refreshes of its cookie; sign-out
 * deletes it, so every cookie issued for it stops working in every process. Times are unix seconds.
 */
export const webSessions = sqliteTable('web_sessions', {
  id: text('id').primaryKey(),
  accountId: integer('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
  authTime: integer('auth_time').notNull(),
  /** The absolute end of the sign-in (auth_time + the maximum session length). */
  expiresAt: integer('expires_at').notNull(),
}, (t) => [index('web_sessions_account').on(t.accountId)]);

/**
 * Fixed-window counters shared by every node: failed-authentication throttles and REST rate limits
 * (src/auth/throttle.ts). `reset_at` is unix milliseconds.
 */
export const windowCounters = sqliteTable('window_counters', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  resetAt: integer('reset_at').notNull(),
}, (t) => [index('window_counters_reset').on(t.resetAt)]);

/**
 * One-time links (a phone's profile download): the payload is sealed with a key derived from the link's token,
 * which is never stored, and the row's id is a keyed hash of that token (src/credentials/one-time-links.ts); any
 * node can serve the link once. `expires_at` is unix seconds.
 */
export const oneTimeLinks = sqliteTable('one_time_links', {
  id: text('id').primaryKey(),
  payload: blob('payload', { mode: 'buffer' }).notNull(),
  expiresAt: integer('expires_at').notNull(),
}, (t) => [index('one_time_links_expires').on(t.expiresAt)]);
/** Small named settings of the database itself, e.g. the check value of the server secret. */
export const meta = sqliteTable('meta', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
});

/**
 * The audit trail: who changed what, when. No foreign keys on purpose: an event outlives the account or credential
 * it names. `at` is unix seconds; `details` a JSON object that never holds a secret.
 */
export const auditEvents = sqliteTable('audit_events', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  at: integer('at').notNull(),
  type: text('type').notNull(),
  /** The account the event is about (whose trail it belongs to). */
  accountId: integer('account_id'),
  credentialId: integer('credential_id'),
  credentialKind: text('credential_kind'),
  /** Who did it: the signed-in account and the credential used (null for the account password or the CLI). */
  actorAccountId: integer('actor_account_id'),
  actorCredentialId: integer('actor_credential_id'),
  clientAddress: text('client_address'),
  /** The face it came through: jmap, rest, web, cli or server. */
  via: text('via').notNull(),
  details: text('details').notNull().default('{}'),
}, (t) => [index('audit_account').on(t.accountId, t.id), index('audit_at').on(t.at)]);

/**
 * The webhook outbox (src/webhooks/): one row per event to deliver, made from the audit trail (the source of truth
 * for changes) or by the expiry scan and the new-address watcher. `event_id` is the webhook-id, unique, so a row is
 * made once whichever node makes it. Pending rows have `next_attempt_at`; a node claims one by moving
 * `claimed_until` forward in one statement. Times are unix seconds.
 */
export const webhookDeliveries = sqliteTable('webhook_deliveries', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  eventId: text('event_id').notNull(),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  createdAt: integer('created_at').notNull(),
  attempts: integer('attempts').notNull().default(0),
  /** When the next attempt is due; null once delivered or given up. */
  nextAttemptAt: integer('next_attempt_at'),
  claimedUntil: integer('claimed_until'),
  deliveredAt: integer('delivered_at'),
  lastStatus: integer('last_status'),
  lastError: text('last_error'),
}, (t) => [
  uniqueIndex('webhook_deliveries_event').on(t.eventId), index('webhook_deliveries_due').on(t.nextAttemptAt),
  index('webhook_deliveries_created').on(t.createdAt),
]);

/**
 * What has been noticed about a credential once: an address it was used from, an expiry it was warned of
 * (`topic` address/expiring/expired, `value` the address or the expiry time). Gone with the credential.
 */
export const credentialNotes = sqliteTable('credential_notes', {
  credentialId: integer('credential_id').notNull().references(() => credentials.id, { onDelete: 'cascade' }),
  topic: text('topic').notNull(),
  value: text('value').notNull(),
  at: integer('at').notNull(),
}, (t) => [primaryKey({ columns: [t.credentialId, t.topic, t.value] })]);
