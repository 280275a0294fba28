import { sql } from 'drizzle-orm';
import { bigint, customType, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * The PostgreSQL tables (the migrations in drizzle/pg/ create them; keep the two in step). They mirror src/db/schema.ts,
 * plus `account_states` (per-account ordering and exact quotas across nodes) and `store_version` (cache
 * invalidation). Ids are identities, never reused (RFC 8620 §1.6.3); dates are unix seconds in bigint columns
 * (`mode: 'number'`: JavaScript numbers, as in SQLite); set-valued columns hold JSON arrays as text.
 */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });
const int8 = (name: string) => bigint(name, { mode: 'number' });

export const accounts = pgTable('accounts', {
  id: int8('id').primaryKey().generatedAlwaysAsIdentity(),
  login: text('login').notNull(),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ['admin', 'user'] }).notNull(),
  createdAt: int8('created_at').notNull(),
  /** The mail address, lower-cased; unique across accounts (drizzle/pg/0004_account_email.sql). */
  email: text('email'),
}, (t) => [uniqueIndex('accounts_login').on(t.login), uniqueIndex('accounts_email').on(t.email)]);

/** Same as src/db/schema.ts; the description index serves the default (ASCII case-insensitive) sort. */
export const credentials = pgTable('credentials', {
  id: int8('id').primaryKey().generatedAlwaysAsIdentity(),
  accountId: int8('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
  kind: text('kind', { enum: ['apiKey', 'appPassword'] }).notNull(),
  description: text('description').notNull(),
  locator: text('locator').notNull(),
  /** HMAC-SHA256(server secret, full token). The token itself is never stored. */
  secretHash: bytea('secret_hash').notNull(),
  createdAt: int8('created_at').notNull(),
  expiresAt: int8('expires_at'),
  permissionsMode: text('permissions_mode', { enum: ['Inherit', 'Disable', 'Replace'] }).notNull(),
  permissions: text('permissions').notNull().default('[]'),
  allowedIps: text('allowed_ips').notNull().default('[]'),
  scopes: text('scopes'),
  platform: text('platform'),
  deviceId: text('device_id'),
  lastUsedAt: int8('last_used_at'),
  /** Client address and service of the newest recorded use, written with last_used_at (drizzle/0008). */
  lastUsedFrom: text('last_used_from'),
  lastUsedService: text('last_used_service', { enum: ['jmap', 'rest', 'imap', 'pop3', 'smtp'] }),
}, (t) => [
  uniqueIndex('credentials_locator').on(t.locator),
  // expires_at NULLS FIRST, id: both directions of the /query expiry order are index orders (drizzle/pg/0010).
  index('credentials_expires').on(t.accountId, t.kind, t.expiresAt.asc().nullsFirst(), t.id),
  index('credentials_expiry_scan').on(t.expiresAt),
  index('credentials_created').on(t.accountId, t.kind, t.createdAt),
  index('credentials_description').on(t.accountId, t.kind, sql`(translate(${t.description}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C")`),
]);

/**
 * One row per account and kind, locked by every credential write of that account and kind until its commit:
 * `seq` is the account's change-log position (so positions follow commit order, whichever node writes) and `n`
 * the number of credentials (so the quota check and the insert are one step).
 */
export const accountStates = pgTable('account_states', {
  accountId: int8('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
  kind: text('kind', { enum: ['apiKey', 'appPassword'] }).notNull(),
  seq: int8('seq').notNull(),
  n: integer('n').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.kind] })]);

/** Per-account change log behind JMAP state strings, /changes and /queryChanges; `seq` from account_states. */
export const changes = pgTable('changes', {
  accountId: int8('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
  kind: text('kind', { enum: ['apiKey', 'appPassword'] }).notNull(),
  seq: int8('seq').notNull(),
  recordId: int8('record_id').notNull(),
  op: text('op', { enum: ['created', 'updated', 'destroyed'] }).notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.kind, t.seq] })]);

/** One row (id 1) counting write transactions; its value is the payload of the change notification. */
export const storeVersion = pgTable('store_version', {
  id: integer('id').primaryKey(),
  n: int8('n').notNull(),
});

/**
 * Web page sign-ins, as in src/db/schema.ts (drizzle/pg/0001_security.sql): deleting a row ends every cookie issued
 * for it on every node (read on each request, never cached). Times are unix seconds.
 */
export const webSessions = pgTable('web_sessions', {
  id: text('id').primaryKey(),
  accountId: int8('account_id').notNull().references(() => accounts.id, { onDelete: 'cascade' }),
  authTime: int8('auth_time').notNull(),
  /** The absolute end of the sign-in (auth_time + the maximum session length). */
  expiresAt: int8('expires_at').notNull(),
}, (t) => [index('web_sessions_account').on(t.accountId)]);

/** Fixed-window counters shared by every node (src/auth/throttle.ts); `reset_at` is unix milliseconds (bigint). */
export const windowCounters = pgTable('window_counters', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  resetAt: int8('reset_at').notNull(),
}, (t) => [index('window_counters_reset').on(t.resetAt)]);

/** One-time links, as in src/db/schema.ts (drizzle/pg/0002_one_time_links.sql): sealed payloads, unix seconds. */
export const oneTimeLinks = pgTable('one_time_links', {
  id: text('id').primaryKey(),
  payload: bytea('payload').notNull(),
  expiresAt: int8('expires_at').notNull(),
}, (t) => [index('one_time_links_expires').on(t.expiresAt)]);

/** Named settings of the database (e.g. the server secret's check value), as in src/db/schema.ts. */
export const meta = pgTable('meta', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
});

/**
 * The audit trail, as in src/db/schema.ts (drizzle/pg/0005_operations.sql): no foreign keys (an event outlives what it
 * names); `at` is unix seconds. `details` is a JSON object as text, like SQLite's (jsonb would refuse a "\u0000" that
 * JSON.stringify writes for a NUL, failing the change it describes). Ids follow commit order (see appendAudit in pg.ts).
 */
export const auditEvents = pgTable('audit_events', {
  id: int8('id').primaryKey().generatedAlwaysAsIdentity(),
  at: int8('at').notNull(),
  type: text('type').notNull(),
  accountId: int8('account_id'),
  credentialId: int8('credential_id'),
  credentialKind: text('credential_kind'),
  actorAccountId: int8('actor_account_id'),
  actorCredentialId: int8('actor_credential_id'),
  clientAddress: text('client_address'),
  via: text('via').notNull(),
  details: text('details').notNull().default('{}'),
}, (t) => [index('audit_account').on(t.accountId, t.id), index('audit_at').on(t.at)]);

/** The webhook outbox, as in src/db/schema.ts. */
export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: int8('id').primaryKey().generatedAlwaysAsIdentity(),
  eventId: text('event_id').notNull(),
  type: text('type').notNull(),
  payload: text('payload').notNull(),
  createdAt: int8('created_at').notNull(),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: int8('next_attempt_at'),
  claimedUntil: int8('claimed_until'),
  deliveredAt: int8('delivered_at'),
  lastStatus: integer('last_status'),
  lastError: text('last_error'),
}, (t) => [
  uniqueIndex('webhook_deliveries_event').on(t.eventId), index('webhook_deliveries_due').on(t.nextAttemptAt),
  index('webhook_deliveries_created').on(t.createdAt),
]);

/** What has been noticed about a credential once, as in src/db/schema.ts. */
export const credentialNotes = pgTable('credential_notes', {
  credentialId: int8('credential_id').notNull().references(() => credentials.id, { onDelete: 'cascade' }),
  topic: text('topic').notNull(),
  value: text('value').notNull(),
  at: int8('at').notNull(),
}, (t) => [primaryKey({ columns: [t.credentialId, t.topic, t.value] })]);
